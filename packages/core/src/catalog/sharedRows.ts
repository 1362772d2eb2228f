/**
 * The catalog on a shared, sequenced storage (storage/SequencedStorage.ts):
 * one row per entry, `[cairn-catalog, entry, id]`, stamped by the store with
 * the number of the commit that wrote it. A row also says which version of
 * the entry its writer had seen (`base`, a commit number): the store says
 * which version the row replaced (`prev`), and `base < prev` means two
 * processes changed the document without seeing each other's change, so
 * neither row's heads are the document's (see Replica.applyCommitted).
 */
import type { CatalogEntry } from "./CatalogEntry.js"
import { decodeLog, encodeLog } from "./catalogRecords.js"

export const ENTRY = "entry"

/** A row's bytes: a log record of one entry, its `seq` holding the base (the entry's own seq is the row's). */
export function encodeEntryRow(entry: CatalogEntry, base: number): Uint8Array {
  const { seq: _ignored, ...unnumbered } = entry
  return encodeLog({ seq: base, entries: [unnumbered] })
}

export function decodeEntryRow(bytes: Uint8Array, seq: number): { entry: CatalogEntry; base: number } {
  const record = decodeLog(bytes)
  const entry = record.entries[0]
  if (!entry || record.entries.length !== 1) throw new Error("bad catalog entry row")
  return { entry: { ...entry, seq }, base: record.seq }
}

/** The same listing: what a peer compares and a reader sees. */
export function sameEntry(a: CatalogEntry, b: CatalogEntry): boolean {
  return (
    a.type === b.type &&
    a.modifiedAt === b.modifiedAt &&
    a.deletedAt === b.deletedAt &&
    a.purged === b.purged &&
    a.quarantined === b.quarantined &&
    a.heads.length === b.heads.length &&
    a.heads.every((head, i) => head === b.heads[i])
  )
}
