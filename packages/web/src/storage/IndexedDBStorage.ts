/**
 * The browser's storage: automerge-repo's IndexedDB adapter, plus atomic
 * batches (see AtomicStorage in @cairn/core), so a transaction's chunks and
 * catalog entries are saved whole or not at all when the tab or the browser
 * dies mid-write.
 *
 * A batch is one IndexedDB readwrite transaction over the adapter's object
 * store, in the adapter's own record shape (`{ key, binary }` under the key),
 * so the adapter reads what a batch wrote like any save of its own.
 * IndexedDB commits a transaction whole or not at all. The batch has its own
 * connection to the database rather than reaching into the adapter's
 * private one; both open version 1, so neither ever blocks the other.
 */
import type { StorageKey } from "@automerge/automerge-repo"
import { IndexedDBStorageAdapter } from "@automerge/automerge-repo-storage-indexeddb"
import type { AtomicStorage, BatchChunk } from "@cairn/core"
import { openStore } from "../helpers/idb.js"

export class IndexedDBStorage extends IndexedDBStorageAdapter implements AtomicStorage {
  #db: Promise<IDBDatabase> | undefined

  constructor(
    private readonly databaseName = "automerge",
    private readonly storeName = "documents",
  ) {
    super(databaseName, storeName)
  }

  async saveBatch(chunks: readonly BatchChunk[]): Promise<void> {
    for (const { key, data } of chunks) {
      if (!Array.isArray(key) || !key.every(part => typeof part === "string"))
        throw new TypeError(`a storage key must be an array of strings, got ${JSON.stringify(key)}`)
      if (!(data instanceof Uint8Array))
        throw new TypeError(`storage values must be Uint8Array, got ${typeof data} for key ${JSON.stringify(key)}`)
    }
    if (chunks.length === 0) return
    const db = await (this.#db ??= openStore(this.databaseName, this.storeName))
    await new Promise<void>((resolve, reject) => {
      const transaction = db.transaction(this.storeName, "readwrite")
      const store = transaction.objectStore(this.storeName)
      try {
        for (const { key, data } of chunks) store.put({ key: [...key] as StorageKey, binary: data }, key)
      } catch (error) {
        // A put IndexedDB refused at once: the puts before it must not commit alone.
        transaction.abort()
        reject(error)
        return
      }
      transaction.oncomplete = () => resolve()
      transaction.onerror = () => reject(transaction.error)
      transaction.onabort = () => reject(transaction.error ?? new Error("IndexedDB transaction aborted: nothing of the batch was saved"))
    })
  }
}
