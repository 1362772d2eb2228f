/**
 * Reading a whole log on open: every intact record in file order, and a
 * report of every damaged byte range, never an exception for damage.
 */
import { ForwardReader } from "./ForwardReader.js"
import { FILE_HEADER_BYTES, type LogFile } from "./LogFile.js"
import {
  batchMembers,
  bodyIsIntact,
  readHeader,
  readKey,
  RECORD_HEADER_BYTES,
  RECORD_MAGIC,
  RecordKind,
  type RecordHeader,
} from "./record.js"

/** A byte range of the log that did not hold an intact record, so it was skipped. */
export interface DamagedRecord {
  /** Where the damage starts in the log file, in bytes. */
  readonly offset: number
  /** How many bytes were skipped. */
  readonly length: number
  /**
   * - `checksum`: a record's key or value does not match its checksum (flipped bytes); it is skipped
   *   exactly, so an older value of its key, if any, is what `load` returns. In a damaged batch that
   *   later records follow, each damaged member is reported and the whole ones count (see `salvage`);
   *   a damaged batch at the end is a torn one and counts for nothing.
   * - `header`: a record header is unreadable, so everything up to the next readable record is skipped.
   * - `torn-tail`: damage with no intact record after it, as an interrupted write leaves; the file was cut
   *   back to the last intact record so new records append cleanly. With fsync on, no save that was
   *   acknowledged is lost this way.
   */
  readonly reason: "checksum" | "header" | "torn-tail"
  /** The record's key when it could still be read. Best effort: it comes from damaged bytes. */
  readonly key?: readonly string[]
  /** Found by the scan on open, or by a later `load` that re-checked the record's checksum. */
  readonly foundWhen: "open" | "read"
}

/** An intact put or tombstone (on its own, or a member of an intact batch), as the scan meets it. */
export interface ScannedRecord {
  readonly kind: typeof RecordKind.Put | typeof RecordKind.Tombstone
  /** The key as JSON, checked to be an array of strings. */
  readonly id: string
  readonly offset: number
  readonly length: number
}

export interface ScanResult {
  /** End of the last intact record: where the file should end. */
  readonly end: number
  readonly damaged: DamagedRecord[]
}

/**
 * Call `onRecord` for every intact record of `file`, in order, and report the
 * damage in between; from `from` on (where a record starts) when what comes
 * before is already known (see savedIndex.ts).
 */
export async function scanLog(file: LogFile, onRecord: (record: ScannedRecord) => void, from = FILE_HEADER_BYTES): Promise<ScanResult> {
  const reader = new ForwardReader(file, file.size)
  const damaged: DamagedRecord[] = []
  let position = from
  let intactEnd = position
  /** The intact members of damaged batches since the last intact record (see `salvage`). */
  let suspect: ScannedRecord[] = []
  const intact = (record: ScannedRecord) => {
    for (const member of suspect) onRecord(member)
    suspect = []
    onRecord(record)
  }
  while (position < file.size) {
    const view = await reader.bytes(position, RECORD_HEADER_BYTES)
    const header = view && readHeader(view.buffer, view.at)
    // A batch's member met on its own is not a record: its batch's header is damaged, and the batch counts for nothing.
    if (!header || header.inBatch) {
      // Resynchronise only here, where the lengths are untrustworthy. A record
      // whose header is intact is skipped by its length instead, so a value
      // that happens to contain record-like bytes is never read as records.
      const next = await nextHeader(reader, position + 1)
      damaged.push({ offset: position, length: (next < 0 ? file.size : next) - position, reason: "header", foundWhen: "open" })
      if (next < 0) break
      position = next
      continue
    }
    const record = await reader.bytes(position, header.length)
    if (!record) break // runs past the end of the file: the torn tail handled below
    if (header.kind === RecordKind.Batch) {
      const members = bodyIsIntact(record.buffer, record.at, header) ? batchMembers(record.buffer, record.at, header) : undefined
      if (members) {
        for (const member of members)
          intact({ kind: member.kind as ScannedRecord["kind"], id: member.id, offset: position + member.at, length: member.length })
        intactEnd = position + header.length
      } else {
        suspect.push(...salvage(record.buffer, record.at, header, position, damaged))
      }
      position += header.length
      continue
    }
    const key = bodyIsIntact(record.buffer, record.at, header) ? readKey(record.buffer, record.at, header) : undefined
    if (key) {
      intact({ kind: header.kind as ScannedRecord["kind"], id: key.id, offset: position, length: header.length })
      intactEnd = position + header.length
    } else {
      const damagedKey = readKey(record.buffer, record.at, header)?.key
      damaged.push({
        offset: position,
        length: header.length,
        reason: "checksum",
        ...(damagedKey ? { key: damagedKey } : {}),
        foundWhen: "open",
      })
    }
    position += header.length
  }
  if (intactEnd === file.size) return { end: intactEnd, damaged }
  const tailKey = damaged.find(damage => damage.offset >= intactEnd && damage.key)?.key
  const middle = damaged.filter(damage => damage.offset < intactEnd)
  middle.push({
    offset: intactEnd,
    length: file.size - intactEnd,
    reason: "torn-tail",
    ...(tailKey ? { key: tailKey } : {}),
    foundWhen: "open",
  })
  return { end: intactEnd, damaged: middle }
}

/**
 * The members of a damaged batch that are whole on their own, each damaged
 * one added to `damaged`. They count only if an intact record follows the
 * batch (the scan holds them until one does): with each group of writes
 * synced before the next one starts, a batch with later records after it was
 * once whole on disk, so its damage came since (a flipped byte) and took only
 * the members it hit; a damaged batch at the end is one a crash tore, and
 * counts for nothing.
 */
function salvage(bytes: Buffer, at: number, header: RecordHeader, position: number, damaged: DamagedRecord[]): ScannedRecord[] {
  const members: ScannedRecord[] = []
  const end = at + header.length
  for (let member = at + RECORD_HEADER_BYTES; member < end; ) {
    const memberHeader = readHeader(bytes, member)
    if (!memberHeader?.inBatch || memberHeader.kind === RecordKind.Batch || member + memberHeader.length > end) {
      damaged.push({ offset: position + member - at, length: end - member, reason: "header", foundWhen: "open" })
      break
    }
    const key = readKey(bytes, member, memberHeader)
    if (key && bodyIsIntact(bytes, member, memberHeader))
      members.push({
        kind: memberHeader.kind as ScannedRecord["kind"],
        id: key.id,
        offset: position + member - at,
        length: memberHeader.length,
      })
    else
      damaged.push({
        offset: position + member - at,
        length: memberHeader.length,
        reason: "checksum",
        ...(key ? { key: key.key } : {}),
        foundWhen: "open",
      })
    member += memberHeader.length
  }
  return members
}

/** The next position at or after `from` where an intact record header starts, or -1. */
async function nextHeader(reader: ForwardReader, from: number): Promise<number> {
  for (;;) {
    const candidate = await reader.indexOf(RECORD_MAGIC, from)
    if (candidate < 0) return -1
    const view = await reader.bytes(candidate, RECORD_HEADER_BYTES)
    const header = view && readHeader(view.buffer, view.at)
    if (header && !header.inBatch) return candidate
    from = candidate + 1
  }
}
