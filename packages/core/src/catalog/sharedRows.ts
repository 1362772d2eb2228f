/**
 * The catalog on a shared, sequenced storage (storage/SequencedStorage.ts):
 * one row per entry, `[cairn-catalog, entry, id]`, stamped by the store with
 * the number of the commit that wrote it, and with the one it replaced when
 * another process wrote that (`prev`): then the two may have changed the
 * document without seeing each other's change, and the document decides
 * (see Replica.applyCommitted).
 */
import type { CatalogEntry } from "./CatalogEntry.js"
import { decodeLog, encodeLog } from "./catalogRecords.js"

export const ENTRY = "entry"

/** A row's bytes: a log record of one entry, unnumbered (the entry's seq is the row's). */
export function encodeEntryRow(entry: CatalogEntry): Uint8Array {
  const { seq: _ignored, ...unnumbered } = entry
  return encodeLog({ seq: 0, entries: [unnumbered] })
}

export function decodeEntryRow(bytes: Uint8Array, seq: number): CatalogEntry {
  const record = decodeLog(bytes)
  const entry = record.entries[0]
  if (!entry || record.entries.length !== 1) throw new Error("bad catalog entry row")
  return { ...entry, seq }
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
