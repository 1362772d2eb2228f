/**
 * Chunks written straight to storage, behind the repo (a large transaction's
 * documents, see Transaction.ts), kept in memory until each is on disk. The
 * transaction lists its documents in the catalog at once, before the writes
 * finish, so that all of it shows at the same moment; until then a read of
 * such a document takes these chunks too (DocumentStore.readStored), a handle
 * loaded meanwhile is given them, and the group commit waits for them before
 * it writes the catalog (an entry must never reach the disk before its
 * document does).
 */
import type { Chunk, StorageAdapterInterface } from "@automerge/automerge-repo"

interface Pending extends Chunk {
  data: Uint8Array
  saving: Promise<void>
  failed?: { error: unknown }
  dropped?: boolean
}

export class PendingChunks {
  readonly #byId = new Map<string, Pending[]>()

  constructor(private readonly storage: StorageAdapterInterface) {}

  /** Start writing a chunk of a document (`name`: see FIRST_CHUNK). */
  write(id: string, data: Uint8Array, name = chunkName(data)): void {
    const chunk = { key: [id, "incremental", name], data } as Pending
    let chunks = this.#byId.get(id)
    if (!chunks) this.#byId.set(id, (chunks = []))
    chunks.push(chunk)
    this.#save(id, chunk)
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

  /** Forget a purged document's chunks; one still being written is removed once it lands. */
  drop(id: string): void {
    for (const chunk of this.#byId.get(id) ?? []) chunk.dropped = true
    this.#byId.delete(id)
  }

  #save(id: string, chunk: Pending): void {
    chunk.failed = undefined
    chunk.saving = this.storage.save(chunk.key, chunk.data).then(
      () => {
        if (chunk.dropped) return void this.storage.remove(chunk.key).catch(() => {})
        const chunks = this.#byId.get(id)
        const at = chunks?.indexOf(chunk) ?? -1
        if (at >= 0) chunks!.splice(at, 1)
        if (chunks?.length === 0) this.#byId.delete(id)
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
