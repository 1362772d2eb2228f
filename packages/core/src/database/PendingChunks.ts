/**
 * Chunks written straight to storage, behind the repo (a large transaction's
 * documents, see Transaction.ts), kept in memory until each is on disk. The
 * transaction lists its documents in the catalog at once, before the writes
 * finish, so that all of it shows at the same moment; until then a read of
 * such a document takes these chunks too (DocumentStore.readStored), a handle
 * loaded meanwhile is given them, and the group commit waits for them before
 * it writes the catalog (an entry must never reach the disk before its
 * document does).
 *
 * On a storage with atomic batches (see storage/AtomicStorage.ts) a chunk is
 * not written at once: the group commit takes every chunk waiting (`take`)
 * and writes them in one batch with the catalog's entries (see
 * GroupWriter.ts). There every local change has a chunk here, also one made
 * on a document in memory, whose repo saves it too: that chunk is a journal
 * entry, removed once the repo's own save is on disk.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"

interface Pending extends Chunk {
  data: Uint8Array
  /** Its own write, when not written in a batch. */
  saving?: Promise<void>
  failed?: { error: unknown }
  dropped?: boolean
  /** Taken into a batch being written. */
  taken?: boolean
  /** A journal entry (see the header). */
  journal?: boolean
  /** Resolved once it is on disk or dropped (see `drained`). */
  landing?: { promise: Promise<void>; resolve: () => void }
}

/** A chunk taken into a batch (see `take` and `landed`). */
export interface TakenChunk {
  readonly id: string
  readonly key: StorageKey
  readonly data: Uint8Array
}

export class PendingChunks {
  readonly #byId = new Map<string, Pending[]>()

  /** `batched`: chunks wait to be taken into a batch rather than being written one by one. */
  constructor(
    private readonly storage: StorageAdapterInterface,
    readonly batched = false,
  ) {}

  /** Start writing a chunk of a document (`name`: see FIRST_CHUNK), or hold it for the next batch; `journal`: see the header. */
  write(id: string, data: Uint8Array, name = chunkName(data), journal = false): void {
    const chunk = { key: [id, "incremental", name], data } as Pending
    if (journal) chunk.journal = true
    let chunks = this.#byId.get(id)
    if (!chunks) this.#byId.set(id, (chunks = []))
    chunks.push(chunk)
    if (!this.batched) this.#save(id, chunk)
  }

  /** Every chunk waiting for a batch (new ones, and those of a batch that failed), now taken into one. */
  take(): TakenChunk[] {
    const taken: TakenChunk[] = []
    for (const [id, chunks] of this.#byId)
      for (const chunk of chunks) {
        if (chunk.taken) continue
        chunk.taken = true
        taken.push(Object.assign(chunk, { id }))
      }
    return taken
  }

  /**
   * The batch holding `taken` is on disk, or failed (`failure`) and they
   * wait for the next one. Returns the keys of the journal entries just
   * written, to remove once the repo has saved their changes, and of chunks
   * whose document was purged meanwhile, to remove now.
   */
  landed(taken: readonly TakenChunk[], failure?: { error: unknown }): { journal: TakenChunk[]; dropped: StorageKey[] } {
    const ok = failure === undefined
    const journal: TakenChunk[] = []
    const dropped: StorageKey[] = []
    for (const chunk of taken as (Pending & TakenChunk)[]) {
      chunk.taken = false
      if (!ok && !chunk.dropped) {
        // A failed batch (a failing disk) releases who waits for it, and no one waits for the chunk again: a repo
        // save held behind it must not hang its flush (and a close) until a next write that may never come. Its
        // transaction was refused already; the chunk is written again with the next batch.
        chunk.failed = failure
        chunk.landing?.resolve()
        continue
      }
      if (chunk.dropped) {
        if (ok) dropped.push(chunk.key)
        continue
      }
      if (chunk.journal) journal.push(chunk)
      this.#forget(chunk.id, chunk)
    }
    return { journal, dropped }
  }

  /** The chunks of a document not yet known to be on disk. */
  of(id: string): Chunk[] {
    return this.#byId.get(id) ?? []
  }

  /**
   * Resolves when every chunk pending now is on disk. A chunk whose write
   * failed stays here (readers still see it) and is written again by the next
   * call, as the catalog writes again the entries of a failed flush.
   */
  async settled(): Promise<void> {
    const chunks = [...this.#byId].flatMap(([id, list]) => list.map(chunk => ({ id, chunk })))
    for (const { id, chunk } of chunks) if (chunk.failed) this.#save(id, chunk)
    await Promise.all(chunks.map(({ chunk }) => chunk.saving))
    const failed = chunks.find(({ chunk }) => chunk.failed)
    if (failed) throw failed.chunk.failed!.error
  }

  /**
   * Resolves once every chunk of the document here now is on disk, its batch
   * failed (then it is not waited for again), or the document was purged;
   * later chunks are not waited for.
   */
  drained(id: string): Promise<void> {
    const chunks = this.#byId.get(id)
    if (!chunks) return Promise.resolve()
    return Promise.all(
      chunks.map(chunk => {
        if (chunk.failed) return undefined
        if (!chunk.landing) {
          let resolve!: () => void
          const promise = new Promise<void>(done => (resolve = done))
          chunk.landing = { promise, resolve }
        }
        return chunk.landing.promise
      }),
    ).then(() => {})
  }

  /** Why a chunk of the document here could not be written, if one could not (its batch failed). */
  failure(id: string): { error: unknown } | undefined {
    return this.#byId.get(id)?.find(chunk => chunk.failed)?.failed
  }

  /** Forget a purged document's chunks; one still being written is removed once it lands. */
  drop(id: string): void {
    for (const chunk of this.#byId.get(id) ?? []) {
      chunk.dropped = true
      chunk.landing?.resolve()
    }
    this.#byId.delete(id)
  }

  #forget(id: string, chunk: Pending): void {
    chunk.landing?.resolve()
    const chunks = this.#byId.get(id)
    const at = chunks?.indexOf(chunk) ?? -1
    if (at >= 0) chunks!.splice(at, 1)
    if (chunks?.length === 0) this.#byId.delete(id)
  }

  #save(id: string, chunk: Pending): void {
    chunk.failed = undefined
    chunk.saving = this.storage.save(chunk.key, chunk.data).then(
      () => {
        if (chunk.dropped) return void this.storage.remove(chunk.key).catch(() => {})
        this.#forget(id, chunk)
      },
      // Never rejected: nobody may be waiting, and settled() reports it.
      error => void (chunk.failed = { error }),
    )
  }
}

/**
 * The name of a new document's first chunk, written by its creation: no
 * other chunk of that document can exist yet, so it needs no unique name,
 * and the short one saves some 20 bytes a document in every key.
 */
export const FIRST_CHUNK = "0"

let chunkCounter = 0
/** A unique name for a chunk written behind the repo (the repo names its own by content hash; any unique name loads the same). */
export function chunkName(bytes: Uint8Array): string {
  return `cairn-${Date.now().toString(36)}-${(chunkCounter++).toString(36)}-${bytes.byteLength}`
}
