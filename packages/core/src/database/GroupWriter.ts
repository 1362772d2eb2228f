/**
 * How one group commit (GroupCommit.ts) reaches the disk: the documents
 * first, then the catalog's entries for them (an entry must never be on disk
 * before its document's change).
 *
 * On a storage with atomic batches (storage/AtomicStorage.ts) the group is
 * one batch: every local change's chunk waiting in PendingChunks (a new
 * document's first chunk, a large transaction's chunks, and the journal
 * entry of each change made on a handle) together with the catalog's log
 * record of the group's entries. After a crash a transaction is then wholly
 * there or wholly absent, its documents with their entries. Why a batch of
 * chunks rather than a transaction record to roll back: Automerge chunks only
 * ever add changes, so "undo" would mean rewriting documents; a batch that
 * the storage keeps or drops whole needs nothing to be undone, and costs one
 * write, as the group did already.
 *
 * automerge-repo still saves the changes made on handles, under its own keys,
 * on its own timer. Its save of a document waits until the document's chunks
 * waiting for a batch when it began are on disk (`holdRepoSaves`): a save that reached the disk
 * before the batch would put one document's part of a transaction there
 * alone, and a crash then would leave the others without theirs (the crash
 * test found it). Once the repo's save is on disk the journal entries are
 * removed (no one waits for this). A crash in between leaves both, which load
 * as the same document, and the repo folds the journal entry into its next
 * snapshot of it.
 *
 * On any other storage the repo's saves and the chunks written behind it go
 * first, one key at a time, and the catalog's record after them.
 */
import type { Repo, StorageKey } from "@automerge/automerge-repo"
import type { Catalog } from "../catalog/Catalog.js"
import type { AtomicStorage } from "../storage/AtomicStorage.js"
import type { DocumentStore } from "./DocumentStore.js"
import type { PendingChunks, TakenChunk } from "./PendingChunks.js"

export class GroupWriter {
  /** Journal entries written, waiting for the repo's own save of their documents. */
  #journal: TakenChunk[] = []
  #cleaning: Promise<void> | undefined

  constructor(
    private readonly repo: Repo,
    private readonly store: DocumentStore,
    private readonly catalog: Catalog,
    /** Set when the storage offers atomic batches. */
    private readonly storage: AtomicStorage | undefined,
  ) {
    if (storage && store.chunks) holdRepoSaves(repo, store.chunks.pending)
  }

  /** Write the group of `ids` (and every entry and chunk waiting now); resolves once it is on disk. */
  async write(ids: string[]): Promise<void> {
    // This machine's vouches for its changes of the group, in their entries before those are captured.
    await this.store.vouchOwn()
    // The catalog writes the entries of this group's changes (captured before their documents are saved), not
    // those of changes made while the documents save: their documents wait for the next group, and so do they.
    const updates = this.catalog.capture()
    const pending = this.store.chunks?.pending
    if (!this.storage || !pending) {
      const live = ids.filter(id => this.store.loaded(id) && !this.catalog.get(id)?.purged)
      if (live.length) await this.repo.flush(live as never)
      // A large transaction's chunks are written behind the repo (see PendingChunks.ts): on disk before their entries.
      await this.store.pendingWritten()
      await this.catalog.flush(updates)
      return
    }
    // Taken in the same step as the entries: a transaction's chunks and entries are in one group, never split.
    const taken = pending.take()
    const storage = this.storage
    let failure: { error: unknown } | undefined
    try {
      await this.catalog.flushWith(updates, records =>
        taken.length + records.length > 0
          ? storage.saveBatch([...taken.map(({ key, data }) => ({ key, data })), ...records])
          : Promise.resolve(),
      )
    } catch (error) {
      failure = { error }
      throw error
    } finally {
      const { journal, dropped } = pending.landed(taken, failure)
      for (const key of dropped) this.#remove(key)
      if (journal.length > 0) this.#cleanUp(journal)
    }
  }

  /** Resolves when the journal entries written so far are removed (or their removal failed). */
  async idle(): Promise<void> {
    while (this.#cleaning) await this.#cleaning
  }

  #cleanUp(journal: TakenChunk[]): void {
    this.#journal.push(...journal)
    this.#cleaning ??= this.#clean().finally(() => (this.#cleaning = undefined))
  }

  async #clean(): Promise<void> {
    while (this.#journal.length > 0) {
      const journal = this.#journal.splice(0)
      const purged = (id: string) => this.catalog.get(id)?.purged === true
      const live = [...new Set(journal.map(chunk => chunk.id))].filter(id => this.store.loaded(id) && !purged(id))
      try {
        if (live.length) await this.repo.flush(live as never)
      } catch {
        // The repo could not save them (a full disk): the journal entries are the only copy on disk, so they stay.
        // The repo folds them into a snapshot when it next loads these documents.
        return
      }
      const saved = new Set(live)
      await Promise.all(journal.filter(chunk => saved.has(chunk.id) || purged(chunk.id)).map(chunk => this.#remove(chunk.key)))
    }
  }

  /** Remove a chunk nobody needs any more; a failure leaves a duplicate, which loads as the same document. */
  #remove(key: StorageKey): Promise<void> {
    return this.storage!.remove(key).catch(() => {})
  }
}

/**
 * Make each save the repo makes of a document wait until the document's
 * chunks waiting for a batch are on disk (see the header): the state it
 * saves holds no change whose chunk is newer than those. automerge-repo has no hook for this;
 * its storage subsystem's `saveDoc` is where every save of a document (the
 * throttled one after a change, a flush) passes, and it is looked up on each
 * call, so wrapping it there holds them all.
 */
function holdRepoSaves(repo: Repo, pending: PendingChunks): void {
  const subsystem = repo.storageSubsystem
  if (!subsystem) return
  const save = subsystem.saveDoc.bind(subsystem)
  subsystem.saveDoc = async (id, doc) => {
    await pending.drained(id)
    return save(id, doc)
  }
}
