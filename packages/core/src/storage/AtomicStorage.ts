/**
 * A storage adapter that can write several keys as one unit: the seam that
 * makes a transaction all-or-nothing across a crash.
 *
 * automerge-repo's `StorageAdapterInterface` saves one key at a time, so a
 * process that dies in the middle of a transaction's saves can leave some of
 * its documents with their part and others without, and a document on disk
 * with no catalog entry. A storage that offers `saveBatch` (Cairn's log
 * storage, and the browser's IndexedDB storage) lets the database write a
 * transaction's chunks and its catalog entries in one call instead; one that
 * does not (any other adapter) keeps the per-key saves, which are each whole
 * but not together.
 */
import type { StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"

/** One key and its value, as a batch saves it. */
export interface BatchChunk {
  key: StorageKey
  data: Uint8Array
}

export interface AtomicStorage extends StorageAdapterInterface {
  /**
   * Save every chunk so that after a crash all of them are stored or none
   * is; resolves once they are all on disk (loads may see them only from
   * then: the database keeps a batch's chunks in memory until it resolves).
   * A key given twice keeps its last value. An invalid key or value rejects
   * the whole batch, saving nothing.
   */
  saveBatch(chunks: readonly BatchChunk[]): Promise<void>
}

/** Whether `storage` offers atomic batches (see AtomicStorage). */
export function isAtomicStorage(storage: StorageAdapterInterface | undefined): storage is AtomicStorage {
  return typeof (storage as Partial<AtomicStorage> | undefined)?.saveBatch === "function"
}
