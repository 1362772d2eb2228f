/**
 * Documents' chunks as the store writes them behind the repo: reading a
 * document's readable chunks (unreadable ones are dropped and reported, see
 * StoredChunks.ts), adding the chunk of an ingest, compacting many chunks
 * into one snapshot, and the chunks of large transactions still being
 * written (see PendingChunks.ts).
 */
import * as A from "@automerge/automerge"
import type { StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import type { Envelope } from "../document/envelope.js"
import { chunkName, PendingChunks } from "./PendingChunks.js"
import { concatChunks, loadChunks } from "./StoredChunks.js"

export interface ReadChunks {
  /** The readable chunks (and the pending ones) as one run, or undefined when there are none. */
  bytes: Uint8Array | undefined
  /** The keys of the readable chunks in storage. */
  keys: StorageKey[]
}

export class ChunkStore {
  /** How many chunks each document read or ingested in this session has in storage. */
  readonly #counts = new Map<string, number>()
  readonly pending: PendingChunks

  constructor(
    private readonly storage: StorageAdapterInterface,
    /** Called when a read dropped unreadable chunks of a document, with why. */
    private readonly onUnreadable: (id: string, reason: string) => void,
    /** Local changes' chunks wait for the group commit's atomic batch (see PendingChunks.ts). */
    batched = false,
  ) {
    this.pending = new PendingChunks(storage, batched)
  }

  /** A document's readable chunks, concatenated, with their keys. An unreadable chunk is removed from storage and reported. */
  async read(id: string): Promise<ReadChunks> {
    // Taken before reading storage: a pending chunk that lands meanwhile is then read twice, which loads the same.
    const pending = [...this.pending.of(id)]
    const { good, bad } = await loadChunks(this.storage, id)
    this.#counts.set(id, good.length)
    if (bad.length > 0) {
      await Promise.all(bad.map(key => this.storage.remove(key)))
      this.onUnreadable(
        id,
        `${bad.length} of ${bad.length + good.length} stored chunks were unreadable (torn or corrupted) and were dropped`,
      )
    }
    const all = [...good, ...pending]
    return { bytes: all.length > 0 ? concatChunks(all) : undefined, keys: good.map(chunk => chunk.key) }
  }

  /** How many chunks a document has in storage, as far as this session has seen. */
  count(id: string): number {
    return this.#counts.get(id) ?? 0
  }

  /** Store one more chunk of a document; returns its key. */
  async append(id: string, bytes: Uint8Array): Promise<StorageKey> {
    const key = [id, "incremental", chunkName(bytes)]
    await this.storage.save(key, bytes)
    this.#counts.set(id, this.count(id) + 1)
    return key
  }

  /** Remove a chunk written by `append` (its document was purged meanwhile). */
  async remove(key: StorageKey): Promise<void> {
    await this.storage.remove(key)
  }

  /**
   * Store `doc` as one snapshot in place of the chunks `keys`. The snapshot
   * is on disk before any chunk goes, so a crash in between leaves both,
   * which load as the same document.
   */
  async compact(id: string, doc: A.Doc<Envelope>, keys: StorageKey[]): Promise<void> {
    const bytes = A.save(doc)
    await this.storage.save([id, "snapshot", chunkName(bytes)], bytes)
    await Promise.all(keys.map(key => this.storage.remove(key)))
    this.#counts.set(id, 1)
  }
}
