/**
 * The byte layout of one log record, and the checks that tell a whole record
 * from damage. All integers are little-endian.
 *
 *   offset size
 *   0      4    magic, so a scan that lost its place can find the next record
 *   4      1    kind: 1 = put (key has this value), 2 = tombstone (key removed),
 *                3 = batch (no key; the value is whole put and tombstone records)
 *   5      1    flags: 1 = a member of a batch (set only inside a batch's value)
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
 * A batch makes several saves and removes one unit across a crash: its one
 * body checksum covers every member, so a batch that a crash tore, or that
 * reached the disk in several writes and lost one, fails it and is skipped
 * whole (a damaged batch with intact records after it was whole once, and
 * keeps its whole members: see scanLog's `salvage`). Its members are complete records (an index entry points at one and a
 * load checks it as it checks any record); their flag keeps a scan that lost
 * its place from taking them for records of their own, and a compaction,
 * which copies live members out on their own, clears it.
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

/** Put: the key has this value. Tombstone: the key was removed. Batch: the records in its value, all or none. */
export const RecordKind = { Put: 1, Tombstone: 2, Batch: 3 } as const
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind]

/** A header whose checksum held: its lengths can be trusted. */
export interface RecordHeader {
  readonly kind: RecordKind
  readonly keyLength: number
  readonly valueLength: number
  readonly bodyCrc: number
  /** Header + key + value, in bytes. */
  readonly length: number
  /** Written inside a batch (see batchMembers). */
  readonly inBatch: boolean
}

const IN_BATCH = 1

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
  record.set(keyBytes, RECORD_HEADER_BYTES)
  record.set(value, RECORD_HEADER_BYTES + keyBytes.length)
  writeHeader(record, 0, kind, keyBytes.length, value.length, 0)
  return record
}

/**
 * One batch record holding `records` (puts and tombstones from
 * encodeRecord), flagged as its members. Returns it and where each member
 * starts in it.
 */
export function encodeBatch(records: readonly Buffer[]): { batch: Buffer; starts: number[] } {
  let length = 0
  for (const record of records) length += record.length
  const batch = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length)
  const starts: number[] = []
  let at = RECORD_HEADER_BYTES
  for (const record of records) {
    record.copy(batch, at)
    setBatchFlag(batch, at, true)
    starts.push(at)
    at += record.length
  }
  writeHeader(batch, 0, RecordKind.Batch, 0, length, 0)
  return { batch, starts }
}

/** Set or clear the member flag of the record at `at`, and its header checksum with it. */
export function setBatchFlag(bytes: Buffer, at: number, inBatch: boolean): void {
  bytes[at + 5] = inBatch ? IN_BATCH : 0
  bytes.writeUInt32LE(crc32(bytes.subarray(at, at + 16)), at + 16)
}

/** A member of a batch, as batchMembers finds it. */
export interface BatchMember {
  /** Where it starts, from the start of the batch record. */
  readonly at: number
  readonly kind: RecordKind
  /** Its key as JSON. */
  readonly id: string
  readonly length: number
}

/**
 * The members of an intact batch record (its body checksum held), or
 * undefined if its value is not a run of whole flagged puts and tombstones
 * (then the batch is damage, skipped whole).
 */
export function batchMembers(bytes: Buffer, at: number, header: RecordHeader): BatchMember[] | undefined {
  const members: BatchMember[] = []
  const end = at + header.length
  for (let position = at + RECORD_HEADER_BYTES; position < end; ) {
    const member = readHeader(bytes, position)
    if (!member?.inBatch || member.kind === RecordKind.Batch || position + member.length > end) return undefined
    const key = readKey(bytes, position, member)
    if (!key) return undefined
    members.push({ at: position - at, kind: member.kind, id: key.id, length: member.length })
    position += member.length
  }
  return members
}

function writeHeader(record: Buffer, at: number, kind: RecordKind, keyLength: number, valueLength: number, flags: number): void {
  record.writeUInt32LE(MAGIC_U32, at)
  record[at + 4] = kind
  record[at + 5] = flags
  record.writeUInt16LE(keyLength, at + 6)
  record.writeUInt32LE(valueLength, at + 8)
  record.writeUInt32LE(crc32(record.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + keyLength + valueLength)), at + 12)
  record.writeUInt32LE(crc32(record.subarray(at, at + 16)), at + 16)
}

const EMPTY = new Uint8Array(0)

/** The header at `at` if its magic and checksum hold, else undefined (damage or not a record). */
export function readHeader(bytes: Buffer, at: number): RecordHeader | undefined {
  if (bytes.length - at < RECORD_HEADER_BYTES) return undefined
  if (bytes.readUInt32LE(at) !== MAGIC_U32) return undefined
  if (crc32(bytes.subarray(at, at + 16)) !== bytes.readUInt32LE(at + 16)) return undefined
  const kind = bytes[at + 4]
  const flags = bytes[at + 5]!
  const keyLength = bytes.readUInt16LE(at + 6)
  const valueLength = bytes.readUInt32LE(at + 8)
  if (kind !== RecordKind.Put && kind !== RecordKind.Tombstone && kind !== RecordKind.Batch) return undefined
  if (kind === RecordKind.Tombstone && valueLength !== 0) return undefined
  if (kind === RecordKind.Batch && (keyLength !== 0 || flags !== 0)) return undefined
  if ((flags & ~IN_BATCH) !== 0) return undefined
  return {
    kind,
    keyLength,
    valueLength,
    bodyCrc: bytes.readUInt32LE(at + 12),
    length: RECORD_HEADER_BYTES + keyLength + valueLength,
    inBatch: flags === IN_BATCH,
  }
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
