/** Promises over IndexedDB's request/transaction events, for the few small stores Cairn keeps itself. */

/** Open (and if needed create) a database with one object store. */
export function openStore(database: string, store: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(database, 1)
    request.onupgradeneeded = () => request.result.createObjectStore(store)
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error ?? new Error(`cannot open IndexedDB database ${database}`))
    request.onblocked = () => reject(new Error(`IndexedDB database ${database} is blocked by another tab upgrading it`))
  })
}

/** Read one value. */
export function readValue<T>(db: IDBDatabase, store: string, key: IDBValidKey): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const request = db.transaction(store, "readonly").objectStore(store).get(key)
    request.onsuccess = () => resolve(request.result as T | undefined)
    request.onerror = () => reject(request.error)
  })
}

/** Write one value; resolves when the transaction has committed. Rejects with DataCloneError for a value IndexedDB cannot store. */
export function writeValue(db: IDBDatabase, store: string, key: IDBValidKey, value: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    let transaction: IDBTransaction
    try {
      transaction = db.transaction(store, "readwrite")
      transaction.objectStore(store).put(value, key)
    } catch (error) {
      reject(error)
      return
    }
    transaction.oncomplete = () => resolve()
    transaction.onerror = () => reject(transaction.error)
    transaction.onabort = () => reject(transaction.error ?? new Error("IndexedDB transaction aborted"))
  })
}
