/**
 * GroupWriter on a storage with atomic batches: a group's chunks and catalog
 * entries go out in one batch, and the repo's own saves of the documents a
 * transaction changed through their handles wait for that batch, so no
 * document's part of a transaction reaches the disk alone. (The crash test
 * in test/reliability/transactions.test.ts found a transaction cut that way.)
 */
import type { StorageKey } from "@automerge/automerge-repo"
import { describe, expect, it } from "vitest"
import { defineType, f } from "../src/index.js"
import type { BatchChunk } from "../src/storage/AtomicStorage.js"
import { MemoryStorage, openDb, sleep, waitFor } from "./helpers.js"

const Task = defineType("task", { fields: { title: f.string(), n: f.number() } })

/** MemoryStorage with batches that can be held, logging every write in order. */
class BatchingStorage extends MemoryStorage {
  readonly writes: string[] = []
  #held: Promise<void> | undefined
  /** The next batch fails (a full disk) and saves nothing. */
  failNext = false
  #release: (() => void) | undefined

  hold(): void {
    this.#held = new Promise(resolve => (this.#release = resolve))
  }

  release(): void {
    this.#release?.()
    this.#held = undefined
  }

  override async save(key: StorageKey, value: Uint8Array) {
    this.writes.push(`save ${key.join("/")}`)
    await super.save(key, value)
  }

  async saveBatch(chunks: readonly BatchChunk[]) {
    this.writes.push(`batch ${chunks.map(chunk => chunk.key[0]).join(",")}`)
    await this.#held
    if (this.failNext) {
      this.failNext = false
      throw new Error("no space left on device")
    }
    for (const { key, data } of chunks) await super.save(key, data)
    this.writes.push("landed")
  }
}

describe("GroupWriter", () => {
  it("writes a transaction's chunks and catalog entries in one batch", async () => {
    const storage = new BatchingStorage()
    const { db } = await openDb({ storage, types: [Task] })
    await sleep(50)
    const before = storage.writes.length
    let ids: string[] = []
    await db.transaction(tx => {
      ids = [tx.create(Task, { title: "a", n: 1 }), tx.create(Task, { title: "b", n: 1 }), tx.create(Task, { title: "c", n: 1 })]
    })
    const batches = storage.writes.slice(before).filter(write => write.startsWith("batch "))
    expect(batches, storage.writes.join("; ")).toHaveLength(1)
    expect(batches[0]!.split(" ")[1]!.split(",").sort()).toEqual([...ids, "cairn-catalog"].sort())
    expect(storage.writes.slice(before).filter(write => write.startsWith("save "))).toEqual([])
  })

  it("holds the repo's saves of documents changed in memory until their transaction's batch is on disk", async () => {
    const storage = new BatchingStorage()
    const { db, repo } = await openDb({ storage, types: [Task] })
    const a = await db.create(Task, { title: "a", n: 0 })
    const b = await db.create(Task, { title: "b", n: 0 })
    // In memory, through handles: a transaction's change of them goes to the repo too, which saves it on its own timer.
    await db.change(Task, a.id, draft => void (draft.n = 1))
    await db.change(Task, b.id, draft => void (draft.n = 1))
    await repo.flush()
    await sleep(150)
    storage.writes.length = 0

    storage.hold()
    const committing = db.transaction(tx => {
      tx.change(Task, a.id, draft => void (draft.n = 2))
      tx.change(Task, b.id, draft => void (draft.n = 2))
    })
    await waitFor(() => storage.writes.some(write => write.startsWith("batch ")))
    // Well past the repo's save delay (100 ms): its saves of a and b must still be waiting.
    await sleep(400)
    expect(storage.writes.filter(write => write.startsWith(`save ${a.id}`) || write.startsWith(`save ${b.id}`))).toEqual([])
    storage.release()
    await committing
    await waitFor(
      () =>
        storage.writes.some(write => write.startsWith(`save ${a.id}`)) && storage.writes.some(write => write.startsWith(`save ${b.id}`)),
    )
    const batchDone = storage.writes.indexOf("landed")
    const firstRepoSave = storage.writes.findIndex(write => write.startsWith(`save ${a.id}`) || write.startsWith(`save ${b.id}`))
    expect(firstRepoSave).toBeGreaterThan(batchDone)
    expect((await db.get(Task, a.id)).data.n).toBe(2)
  })

  it("rejects a transaction whose batch failed, and writes it whole with the next one, the repo's saves released", async () => {
    const storage = new BatchingStorage()
    const { db, repo } = await openDb({ storage, types: [Task] })
    const a = await db.create(Task, { title: "a", n: 0 })
    await db.change(Task, a.id, draft => void (draft.n = 1))
    storage.failNext = true
    await expect(db.change(Task, a.id, draft => void (draft.n = 2))).rejects.toThrow(/no space left/)
    // The repo's save of a, held behind the failed batch, is not stuck: a flush finishes.
    await repo.flush([a.id as never])
    const b = await db.create(Task, { title: "b", n: 0 })
    await db.close()
    const reopened = await openDb({ storage, types: [Task] })
    expect((await reopened.db.get(Task, a.id)).data.n).toBe(2)
    expect((await reopened.db.list(Task)).map(doc => doc.id).sort()).toEqual([a.id, b.id].sort())
  })

  it("finds a document created a moment ago, before its batch landed, for a change made meanwhile", async () => {
    const storage = new BatchingStorage()
    const { db } = await openDb({ storage, types: [Task] })
    storage.hold()
    let id = ""
    const creating = db.transaction(tx => void (id = tx.create(Task, { title: "new", n: 0 })))
    await waitFor(() => storage.writes.some(write => write.startsWith("batch ")))
    const changing = db.change(Task, id, draft => void (draft.n = 1))
    await sleep(50)
    storage.release()
    await creating
    await changing
    expect((await db.get(Task, id)).data.n).toBe(1)
  })

  it("fails a change to a document whose creation never reached the disk with that write's error", async () => {
    const storage = new BatchingStorage()
    const { db } = await openDb({ storage, types: [Task] })
    storage.failNext = true
    let id = ""
    await expect(db.transaction(tx => void (id = tx.create(Task, { title: "lost", n: 0 })))).rejects.toThrow(/no space left/)
    await expect(db.change(Task, id, draft => void (draft.n = 1))).rejects.toThrow(/no space left/)
  })

  it("leaves no journal chunk once the repo has saved the changes", async () => {
    const storage = new BatchingStorage()
    const { db } = await openDb({ storage, types: [Task] })
    const a = await db.create(Task, { title: "a", n: 0 })
    for (let n = 1; n <= 20; n++) await db.change(Task, a.id, draft => void (draft.n = n))
    await db.close()
    const names = (await storage.loadRange([a.id])).map(chunk => chunk.key[2]!)
    expect(names.filter(name => name.startsWith("cairn-"))).toEqual([])
  })
})
