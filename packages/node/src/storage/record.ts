/**
 * The byte layout of one log record, and the checks that tell a whole record
 * from damage. All integers are little-endian.
 *
 *   offset size
 *   0      4    magic, so a scan that lost its place can find the next record
 *   4      1    kind: 1 = put (key has this value), 2 = tombstone (key removed)
 *   5      1    reserved, 0
 *   6      2    key length in bytes
 *   8      4    value length in bytes (0 for a tombstone)
 *   12     4    CRC-32 of key + value
 *   16     4    CRC-32 of bytes 0..15
 *   20     key (the key array as JSON, UTF-8), then value
 *
 * Two checksums because they protect different things: the header's own CRC
 * makes the lengths trustworthy, so a record whose body is damaged can be
 * skipped exactly, by its length, without guessing where the next one starts;
 * only a damaged header makes the scan search for the next magic.
 *
 * The key is stored as JSON because it is unambiguous for any strings (no
 * separator a key part could contain) and `JSON.parse` is the fastest decoder
 * we have; the same JSON string is the index's map key.
 */
import { crc32 } from "./crc32.js"
import { InvalidStorageKeyError } from "./errors.js"

export const RECORD_HEADER_BYTES = 20
export const RECORD_MAGIC = Buffer.from([0xc7, 0xa1, 0x12, 0x5b])
const MAGIC_U32 = RECORD_MAGIC.readUInt32LE(0)
const MAX_KEY_BYTES = 0xffff

/** Put: the key has this value. Tombstone: the key was removed. */
export const RecordKind = { Put: 1, Tombstone: 2 } as const
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind]

/** A header whose checksum held: its lengths can be trusted. */
export interface RecordHeader {
  readonly kind: RecordKind
  readonly keyLength: number
  readonly valueLength: number
  readonly bodyCrc: number
  /** Header + key + value, in bytes. */
  readonly length: number
}

/** The key's JSON text, its identity in the index. Throws InvalidStorageKeyError for anything but an array of strings. */
export function keyId(key: readonly string[]): string {
  if (!Array.isArray(key) || !key.every(part => typeof part === "string")) {
    throw new InvalidStorageKeyError(`a storage key must be an array of strings, got ${JSON.stringify(key)}`)
  }
  return JSON.stringify(key)
}

/** The key as stored: its JSON text (also the index's map key) and the UTF-8 bytes of it. */
export function encodeKey(key: readonly string[]): { id: string; bytes: Buffer } {
  const id = keyId(key)
  const bytes = Buffer.from(id, "utf8")
  if (bytes.length > MAX_KEY_BYTES) {
    throw new InvalidStorageKeyError(`a storage key must be at most ${MAX_KEY_BYTES} bytes as JSON, got ${bytes.length}`)
  }
  return { id, bytes }
}

/** One record, ready to append. A tombstone has no value. */
export function encodeRecord(kind: RecordKind, keyBytes: Uint8Array, value: Uint8Array = EMPTY): Buffer {
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + keyBytes.length + value.length)
  record.writeUInt32LE(MAGIC_U32, 0)
  record[4] = kind
  record[5] = 0
  record.writeUInt16LE(keyBytes.length, 6)
  record.writeUInt32LE(value.length, 8)
  record.set(keyBytes, RECORD_HEADER_BYTES)
  record.set(value, RECORD_HEADER_BYTES + keyBytes.length)
  record.writeUInt32LE(crc32(record.subarray(RECORD_HEADER_BYTES)), 12)
  record.writeUInt32LE(crc32(record.subarray(0, 16)), 16)
  return record
}

const EMPTY = new Uint8Array(0)

/** The header at `at` if its magic and checksum hold, else undefined (damage or not a record). */
export function readHeader(bytes: Buffer, at: number): RecordHeader | undefined {
  if (bytes.length - at < RECORD_HEADER_BYTES) return undefined
  if (bytes.readUInt32LE(at) !== MAGIC_U32) return undefined
  if (crc32(bytes.subarray(at, at + 16)) !== bytes.readUInt32LE(at + 16)) return undefined
  const kind = bytes[at + 4]
  const keyLength = bytes.readUInt16LE(at + 6)
  const valueLength = bytes.readUInt32LE(at + 8)
  if (kind !== RecordKind.Put && kind !== RecordKind.Tombstone) return undefined
  if (kind === RecordKind.Tombstone && valueLength !== 0) return undefined
  return { kind, keyLength, valueLength, bodyCrc: bytes.readUInt32LE(at + 12), length: RECORD_HEADER_BYTES + keyLength + valueLength }
}

/** Whether the key and value after a header match the header's body checksum. */
export function bodyIsIntact(bytes: Buffer, at: number, header: RecordHeader): boolean {
  const body = bytes.subarray(at + RECORD_HEADER_BYTES, at + header.length)
  return body.length === header.length - RECORD_HEADER_BYTES && crc32(body) === header.bodyCrc
}

/** The header of the record at `at` if it is intact and holds the key `id` with this total length, else undefined. */
export function intactRecord(bytes: Buffer, at: number, id: string, length: number): RecordHeader | undefined {
  const header = readHeader(bytes, at)
  if (!header || header.length !== length || !bodyIsIntact(bytes, at, header)) return undefined
  const keyStart = at + RECORD_HEADER_BYTES
  return bytes.toString("utf8", keyStart, keyStart + header.keyLength) === id ? header : undefined
}

/** The key of the record at `at`, or undefined if its bytes are not a key (only possible in damaged bytes). */
export function readKey(bytes: Buffer, at: number, header: RecordHeader): { id: string; key: string[] } | undefined {
  const start = at + RECORD_HEADER_BYTES
  const id = bytes.toString("utf8", start, Math.min(start + header.keyLength, bytes.length))
  try {
    const key: unknown = JSON.parse(id)
    if (Array.isArray(key) && key.every(part => typeof part === "string")) return { id, key }
  } catch {
    // Damaged key bytes: the caller reports the record without a key.
  }
  return undefined
}

/** The value of an intact record, copied out so it does not pin the read buffer. */
export function readValue(bytes: Buffer, at: number, header: RecordHeader): Uint8Array {
  const start = at + RECORD_HEADER_BYTES + header.keyLength
  return new Uint8Array(bytes.subarray(start, start + header.valueLength))
}
