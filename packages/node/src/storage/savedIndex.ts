/**
 * The key index saved beside the log (`storage.log.index`), so an open reads
 * it and scans only the records after it, rather than the whole log.
 *
 *   "CAIRNIDX", format version (u32), the log length it covers (u64),
 *   CRC-32 of the log's first `length` bytes (u32), entry count (u32),
 *   then per live key in file order: offset (u64), record length (u32),
 *   key length (u32), key (its JSON, UTF-8); then CRC-32 of all of the above.
 *
 * It is only a shortcut: the log stays the truth and the scan its crash
 * recovery. The index is written where it describes exactly the log's first
 * `length` bytes (a clean close, a compaction with no write waiting) and
 * never where the log holds known damage (the scan reports it on every open
 * until a compaction drops it). It is used only when it is whole (its own
 * checksum), no longer than the log, and the log's first `length` bytes still
 * have the checksum it names: a torn or garbled index, one older than a
 * compaction, one newer than the log (a log restored from a copy, a tail cut
 * back), or damage in the log since, all fall back to the full scan.
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises"
import { crc32 } from "./crc32.js"
import { ForwardReader } from "./ForwardReader.js"
import type { IndexEntry } from "./KeyIndex.js"
import { FILE_HEADER_BYTES, type LogFile } from "./LogFile.js"

const MAGIC = Buffer.from("CAIRNIDX", "latin1")
const VERSION = 1
const HEAD_BYTES = 8 + 4 + 8 + 4 + 4
const ENTRY_BYTES = 8 + 4 + 4
const CRC_CHUNK = 4 * 1024 * 1024

/** A live key as the saved index has it. */
export interface SavedEntry {
  readonly id: string
  readonly offset: number
  readonly length: number
}

export interface SavedIndex {
  /** The log length it covers: records after it are scanned. */
  readonly length: number
  /** Live keys in file order (their save order). */
  readonly entries: SavedEntry[]
}

/** CRC-32 of the first `length` bytes of `file`. */
export async function logChecksum(file: LogFile, length: number): Promise<number> {
  const reader = new ForwardReader(file, length)
  let crc = 0
  for (let position = 0; position < length; ) {
    const size = Math.min(CRC_CHUNK, length - position)
    const view = await reader.bytes(position, size)
    if (!view) throw new Error(`the log ends before ${length} bytes`)
    crc = crc32(view.buffer.subarray(view.at, view.at + size), crc)
    position += size
  }
  return crc
}

/** The index of `entries` (every one written, in `file`), covering the whole of `file` as it is now. */
export async function encodeSavedIndex(file: LogFile, entries: Iterable<IndexEntry>): Promise<Buffer> {
  const length = file.size
  const sorted = [...entries].sort((a, b) => a.offset - b.offset)
  const keys = sorted.map(entry => Buffer.from(entry.id, "utf8"))
  const bytes = Buffer.alloc(HEAD_BYTES + sorted.length * ENTRY_BYTES + keys.reduce((sum, key) => sum + key.length, 0) + 4)
  MAGIC.copy(bytes, 0)
  bytes.writeUInt32LE(VERSION, 8)
  bytes.writeBigUInt64LE(BigInt(length), 12)
  bytes.writeUInt32LE(await logChecksum(file, length), 20)
  bytes.writeUInt32LE(sorted.length, 24)
  let at = HEAD_BYTES
  sorted.forEach((entry, i) => {
    if (entry.offset < 0) throw new Error("an index is saved only when every record is written")
    bytes.writeBigUInt64LE(BigInt(entry.offset), at)
    bytes.writeUInt32LE(entry.length, at + 8)
    bytes.writeUInt32LE(keys[i]!.length, at + 12)
    keys[i]!.copy(bytes, at + ENTRY_BYTES)
    at += ENTRY_BYTES + keys[i]!.length
  })
  bytes.writeUInt32LE(crc32(bytes.subarray(0, at)), at)
  return bytes
}

/** The saved index's entries if it is whole and describes `file`'s first bytes as they are; otherwise undefined. */
export async function decodeSavedIndex(bytes: Buffer, file: LogFile): Promise<SavedIndex | undefined> {
  if (bytes.length < HEAD_BYTES + 4 || !bytes.subarray(0, 8).equals(MAGIC) || bytes.readUInt32LE(8) !== VERSION) return undefined
  const end = bytes.length - 4
  if (crc32(bytes.subarray(0, end)) !== bytes.readUInt32LE(end)) return undefined
  const length = Number(bytes.readBigUInt64LE(12))
  if (length < FILE_HEADER_BYTES || length > file.size) return undefined
  const count = bytes.readUInt32LE(24)
  const entries: SavedEntry[] = []
  let at = HEAD_BYTES
  let previousEnd = FILE_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_BYTES > end) return undefined
    const offset = Number(bytes.readBigUInt64LE(at))
    const recordLength = bytes.readUInt32LE(at + 8)
    const keyLength = bytes.readUInt32LE(at + 12)
    at += ENTRY_BYTES
    // Records in file order, inside the length covered, never overlapping.
    if (at + keyLength > end || offset < previousEnd || offset + recordLength > length) return undefined
    entries.push({ id: bytes.toString("utf8", at, at + keyLength), offset, length: recordLength })
    previousEnd = offset + recordLength
    at += keyLength
  }
  if (at !== end) return undefined
  if ((await logChecksum(file, length)) !== bytes.readUInt32LE(20)) return undefined
  return { length, entries }
}

/** Read the index saved at `path` for `file`; undefined when there is none or it does not hold (see the top of this file). */
export async function readSavedIndex(path: string, file: LogFile): Promise<SavedIndex | undefined> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch {
    return undefined
  }
  return decodeSavedIndex(bytes, file)
}

/**
 * Save the index under `path`, by way of a temporary file renamed over it. Not
 * fsynced: one lost or torn by a crash fails its checks and the open scans.
 */
export async function writeSavedIndex(path: string, bytes: Buffer): Promise<void> {
  const temporary = `${path}.writing`
  try {
    await writeFile(temporary, bytes)
    await rename(temporary, path)
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
}

/** Remove a saved index (before the log it describes is replaced). */
export async function removeSavedIndex(path: string): Promise<void> {
  await rm(path, { force: true })
}
