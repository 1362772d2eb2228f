// The page the browser conformance test drives: each suite, run here by the
// suites' own runner, its results handed back to the test.
import { runCases, type CaseResult } from "../../../packages/core/test/conformance/runner.js"
import { storageConformance } from "../../../packages/core/test/conformance/storage.js"
import { transportConformance } from "../../../packages/core/test/conformance/transport.js"
import { IndexedDBStorage } from "../../../packages/web/src/storage/IndexedDBStorage.js"
import { indexedDbStore, tabTransport } from "./subjects.js"

declare global {
  interface Window {
    conformance: Record<"indexedDb" | "tabs", () => Promise<CaseResult[]>>
    /** For test/browser/storage.test.ts: IndexedDBStorage's batches. */
    batches: {
      /** Save a batch of `count` chunks of `bytes` each into database `name`; how many IndexedDB transactions it opened. */
      save(name: string, count: number, bytes: number): Promise<{ transactions: number }>
      /** Start such a batch and return at once, without waiting for it. */
      start(name: string, count: number, bytes: number): void
      /** How many of a batch's chunks database `name` holds, and whether each one held is whole. */
      held(name: string, count: number, bytes: number): Promise<{ keys: number; whole: boolean }>
    }
  }
}

const chunksOf = (count: number, bytes: number) =>
  Array.from({ length: count }, (_, i) => ({ key: [`doc${i % 7}`, "incremental", `c${i}`], data: new Uint8Array(bytes).fill(i % 251) }))

window.batches = {
  async save(name, count, bytes) {
    const storage = new IndexedDBStorage(name)
    await storage.load(["warm"])
    const open = IDBDatabase.prototype.transaction
    let transactions = 0
    IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof open>) {
      transactions++
      return open.apply(this, args)
    }
    try {
      await storage.saveBatch(chunksOf(count, bytes))
    } finally {
      IDBDatabase.prototype.transaction = open
    }
    return { transactions }
  },
  start(name, count, bytes) {
    void new IndexedDBStorage(name).saveBatch(chunksOf(count, bytes)).catch(() => {})
  },
  async held(name, count, bytes) {
    const found = await new IndexedDBStorage(name).loadRange([])
    const expected = new Map(chunksOf(count, bytes).map(chunk => [chunk.key.join("/"), chunk.data]))
    const whole = found.every(chunk => {
      const want = expected.get(chunk.key.join("/"))
      return want !== undefined && chunk.data!.length === want.length && chunk.data!.every((b, i) => b === want[i])
    })
    return { keys: found.length, whole }
  },
}

window.conformance = {
  indexedDb: () => runCases(storageConformance(indexedDbStore)),
  tabs: () => runCases(transportConformance(tabTransport)),
}
