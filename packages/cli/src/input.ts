/**
 * Input from files and standard input, refused with a clear error before it
 * can cost more than a document may hold: too large, or not valid UTF-8
 * (which would otherwise be replaced with U+FFFD without a word).
 */
import { fstatSync, readFileSync } from "node:fs"

/** Largest input a command takes as documents' data (standard input, one file of an export). */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024

/** Decode UTF-8, refusing invalid bytes with the offset of the first bad sequence. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes)
  } catch {
    throw new Error(`${what} is not valid UTF-8 (at byte ${firstInvalidUtf8(bytes)})`)
  }
}

/** Standard input as text (undefined on a terminal), at most MAX_INPUT_BYTES. */
export function readStdinText(): string | undefined {
  if (process.stdin.isTTY) return undefined
  const tooLarge = (size: number) => new Error(`standard input holds ${size} bytes, more than a command takes (${MAX_INPUT_BYTES})`)
  let bytes: Buffer
  try {
    // A file given with `<` is refused before it is read.
    const { size } = fstatSync(0)
    if (size > MAX_INPUT_BYTES) throw tooLarge(size)
    bytes = readFileSync(0)
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("standard input")) throw error
    return undefined
  }
  if (bytes.byteLength > MAX_INPUT_BYTES) throw tooLarge(bytes.byteLength)
  return decodeUtf8(bytes, "standard input")
}

/** The offset of the first byte of the sequence that breaks UTF-8. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  // The longest prefix that is valid, allowing a sequence cut at its end (stream mode); its complete
  // characters, encoded again, are as long as the bytes before the breaking sequence.
  let low = 0
  let high = bytes.length
  while (low < high) {
    const middle = (low + high) >> 1
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, middle + 1), { stream: true })
      low = middle + 1
    } catch {
      high = middle
    }
  }
  return new TextEncoder().encode(new TextDecoder("utf-8").decode(bytes.subarray(0, low), { stream: true })).length
}
