import { FrameError } from "./errors.js"

/**
 * What one frame may hold, checked on its raw bytes before anything is
 * decoded. A CBOR byte can declare an empty map: 57 MB of them decode into
 * 60 million JavaScript objects (gigabytes), so the byte limit alone does
 * not bound what decoding costs. Counting the items first does, in one pass
 * that allocates nothing.
 */
export interface FrameLimits {
  /** Largest frame, in bytes. */
  readonly maxFrameBytes: number
  /** Most data items (every value, key, array and map counts one). */
  readonly maxItems: number
  /** Deepest nesting of arrays, maps and tags. */
  readonly maxDepth: number
}

/**
 * Walk a CBOR value's structure without decoding it. Throws
 * {@link FrameError} if it breaks a limit, is truncated, is followed by
 * trailing bytes, or uses a tag (none of our frames has one; cbor-x would
 * build Sets, Maps, Dates and records from them).
 */
export function checkCborLimits(bytes: Uint8Array, limits: FrameLimits): void {
  const end = bytes.byteLength
  let offset = 0
  let items = 0
  // Per open container: how many items it still expects (-1 while indefinite, until its break).
  const open: number[] = []
  const header = (): { major: number; info: number; length: number } => {
    if (offset >= end) throw new FrameError("invalid CBOR: truncated")
    const initial = bytes[offset++]!
    const major = initial >> 5
    const info = initial & 0x1f
    if (info < 24) return { major, info, length: info }
    if (info === 31) return { major, info, length: -1 }
    if (info > 27) throw new FrameError(`invalid CBOR: header byte 0x${initial.toString(16)}`)
    const size = 1 << (info - 24)
    if (offset + size > end) throw new FrameError("invalid CBOR: truncated")
    let length = 0
    for (let i = 0; i < size; i++) length = length * 256 + bytes[offset++]!
    return { major, info, length }
  }
  do {
    const { major, info, length } = header()
    if (major === 7 && info === 31) {
      if (open.length === 0 || open[open.length - 1] !== -1) throw new FrameError("invalid CBOR: unexpected break")
      open.pop()
      closeFinished(open)
      continue
    }
    if (++items > limits.maxItems) throw new FrameError(`frame holds more than ${limits.maxItems} items`)
    switch (major) {
      case 0:
      case 1:
      case 7:
        // Numbers and simple values: their bytes were read with the header.
        break
      case 2:
      case 3:
        if (length === -1) {
          open.push(-1)
          break
        }
        if (length > end - offset) throw new FrameError("invalid CBOR: truncated string")
        offset += length
        break
      case 4:
      case 5: {
        const count = length === -1 ? -1 : major === 5 ? length * 2 : length
        // Every item takes at least one byte, so a larger declared count is a lie that only costs the decoder.
        if (count > end - offset)
          throw new FrameError(`invalid CBOR: ${major === 4 ? "an array" : "a map"} declares ${length} items in ${end - offset} bytes`)
        if (count === 0) break
        open.push(count)
        if (open.length > limits.maxDepth) throw new FrameError(`frame nests deeper than ${limits.maxDepth}`)
        continue
      }
      case 6:
        throw new FrameError("invalid CBOR: tags are not accepted")
    }
    closeFinished(open)
  } while (open.length > 0)
  if (offset !== end) throw new FrameError(`invalid CBOR: ${end - offset} bytes after the frame's value`)
}

/** One item finished: close every definite container it completed. */
function closeFinished(open: number[]): void {
  while (open.length > 0) {
    const top = open.length - 1
    if (open[top] === -1) return
    if (--open[top]! > 0) return
    open.pop()
  }
}
