/**
 * A storage that several processes share at once (PostgreSQL under a relay
 * of several processes): it numbers every batch in commit order, the same
 * numbers for every process, so a peer's checkpoint of the catalog means the
 * same whichever process serves it.
 *
 * The catalog keeps one row per entry in it (see Catalog.ts) instead of a
 * snapshot and a log: two processes writing a log would number and compact
 * each other's records away.
 */
import type { StorageKey } from "@automerge/automerge-repo"
import type { AtomicStorage } from "./AtomicStorage.js"

/** A row as a commit left it. */
export interface CommittedRow {
  key: StorageKey
  /** Undefined when the reader asked not to be sent it (this process's own document chunks: it holds them). */
  data: Uint8Array | undefined
  /** The number of the commit that wrote the row (commit order, store-wide). */
  seq: number
  /**
   * The number of the commit whose version of the row this one replaced,
   * when another process wrote that version (0 otherwise): then this row's
   * writer may not have seen it (see Catalog.adopt).
   */
  prev: number
  /** Written by this process. */
  own: boolean
}

export interface SequencedStorage extends AtomicStorage {
  readonly sequenced: true
  /** The store's epoch (fixed for its life) and the number of its newest commit. */
  sequence(): Promise<{ epoch: string; seq: number }>
  /** The rows under `prefix` with the commits that wrote them. */
  loadCommitted(prefix: StorageKey): Promise<CommittedRow[]>
  /**
   * Resolves once every batch this process committed so far has been read
   * back and applied in memory (by its follower), so the catalog's durableSeq
   * covers them.
   */
  applied(): Promise<void>
}

/** Whether `storage` is shared and numbers its commits (see SequencedStorage). */
export function isSequencedStorage(storage: unknown): storage is SequencedStorage {
  return (storage as Partial<SequencedStorage> | undefined)?.sequenced === true
}
