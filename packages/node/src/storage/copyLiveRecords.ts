/**
 * The copying half of compaction: write the live records of a log into a
 * new log file under a temporary name. Making it the log (fsync, rename,
 * fsync the directory) is the adapter's job, because only the adapter can
 * switch its index over at the moment the rename makes the copy the log.
 *
 * Records are copied byte for byte in file order: the source is read front
 * to back through a large window, and the order of keys (see KeyIndex) is
 * the order of their records, so it is kept. Each record's checksum and key
 * are checked on the way, so damage that appeared after the log was opened
 * is not carried into the new file. A live member of a batch is copied as a
 * record of its own (its batch was whole when it was indexed, and the rest of
 * the batch may be dead), so its member flag is cleared.
 */
import { rm } from "node:fs/promises"
import { ForwardReader } from "./ForwardReader.js"
import type { IndexEntry } from "./KeyIndex.js"
import { LogFile } from "./LogFile.js"
import { intactRecord, setBatchFlag } from "./record.js"

const OUTPUT_BUFFER_BYTES = 1024 * 1024

export interface LiveCopy {
  /** The new log, unsynced, still under its temporary name. */
  readonly file: LogFile
  /** Where each copied entry's record is in the new file. */
  readonly offsets: Map<IndexEntry, number>
  /** Entries whose record was no longer intact, so were not copied. */
  readonly damaged: IndexEntry[]
}

/** Copy the records of `entries` (all in `source`, sorted by offset) into a new log at `temporaryPath`. */
export async function copyLiveRecords(source: LogFile, entries: readonly IndexEntry[], temporaryPath: string): Promise<LiveCopy> {
  const target = await LogFile.createTemporary(temporaryPath)
  try {
    const reader = new ForwardReader(source, source.size)
    const offsets = new Map<IndexEntry, number>()
    const damaged: IndexEntry[] = []
    let output = Buffer.allocUnsafe(OUTPUT_BUFFER_BYTES)
    let used = 0
    for (const entry of entries) {
      const view = await reader.bytes(entry.offset, entry.length)
      const header = view && intactRecord(view.buffer, view.at, entry.id, entry.length)
      if (!view || !header) {
        damaged.push(entry)
        continue
      }
      if (used + entry.length > output.length) {
        await target.append([output.subarray(0, used)], false)
        used = 0
        if (entry.length > output.length) output = Buffer.allocUnsafe(entry.length)
      }
      offsets.set(entry, target.size + used)
      view.buffer.copy(output, used, view.at, view.at + entry.length)
      if (header.inBatch) setBatchFlag(output, used, false)
      used += entry.length
    }
    await target.append([output.subarray(0, used)], false)
    return { file: target, offsets, damaged }
  } catch (error) {
    await target.handle.close()
    await rm(temporaryPath, { force: true })
    throw error
  }
}
