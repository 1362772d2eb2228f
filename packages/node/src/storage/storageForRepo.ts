/**
 * The storage adapter as the Repo sees it.
 *
 * automerge-repo 2.5.6 saves documents and sync states from timers and does
 * not catch a failed save: the rejection goes unhandled, and an unhandled
 * rejection ends a Node process. A full disk did that, and so did a purge
 * removing a document's directory while its sync state was being saved.
 *
 * Here every failed write the Repo makes is marked, and a marked rejection
 * that nothing handled is logged instead of ending the process. Nothing is
 * swallowed where someone waits: Cairn's group commit flushes the Repo and
 * still gets the error (so a write is acknowledged only once it is on disk),
 * and automerge-repo, seeing the save fail, saves those changes again next time.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"

/** Marks an error from a write the Repo made; its value is the log of the peer whose storage failed. */
export const BACKGROUND_WRITE_FAILURE = Symbol.for("cairn.backgroundWriteFailure")

export interface RepoStorage extends StorageAdapterInterface {
  /**
   * The peer is closing: every document was flushed, so writes the Repo makes
   * from now on (its throttled sync-state saves fire on timers after close)
   * are dropped instead of failing on a closed store.
   */
  retire(): void
}

export function storageForRepo(storage: StorageAdapterInterface, log: (message: string) => void): RepoStorage {
  installHandler()
  let retired = false
  const marked = (write: () => Promise<void>): Promise<void> =>
    retired
      ? Promise.resolve()
      : write().catch(error => {
          if (typeof error === "object" && error !== null) (error as Record<symbol, unknown>)[BACKGROUND_WRITE_FAILURE] = log
          throw error
        })
  return {
    load: (key: StorageKey) => storage.load(key),
    loadRange: (prefix: StorageKey): Promise<Chunk[]> => storage.loadRange(prefix),
    save: (key: StorageKey, data: Uint8Array) => marked(() => storage.save(key, data)),
    remove: (key: StorageKey) => marked(() => storage.remove(key)),
    removeRange: (prefix: StorageKey) => marked(() => storage.removeRange(prefix)),
    retire: () => void (retired = true),
  }
}

let installed = false

function installHandler(): void {
  if (installed) return
  installed = true
  process.on("unhandledRejection", reason => {
    const log = (reason as Record<symbol, unknown> | null)?.[BACKGROUND_WRITE_FAILURE]
    if (typeof log === "function") {
      log(`a background save failed (${(reason as Error).message}); the changes stay in memory and are saved with the next write`)
      return
    }
    // Not ours: behave as if this handler were not here (Node ends the process), unless the app handles rejections itself.
    if (process.listenerCount("unhandledRejection") === 1) throw reason
  })
}
