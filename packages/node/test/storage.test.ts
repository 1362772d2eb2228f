import { mkdir, mkdtemp, open, readdir, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import * as A from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { Database, defineType, f, Machine } from "@cairn/core"
import { NodePeer } from "../src/index.js"
import { storageForRepo } from "../src/storage/storageForRepo.js"
import { openStorage } from "../src/storage/openStorage.js"

const Task = defineType("task", { fields: { title: f.string(), votes: f.counter() } })

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-storage-"))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

describe("a peer's storage", () => {
  it("keeps everything in one log file in <dir>/store", async () => {
    const dir = await tempDir()
    const peer = await NodePeer.open({ dir, types: [Task] })
    for (let i = 0; i < 20; i++) await peer.db.create(Task, { title: `task ${i}` })
    await peer.close()
    // Beside each log, the index saved at close (see savedIndex.ts).
    expect((await readdir(join(dir, "store"))).sort()).toEqual(["catalog", "storage.log", "storage.log.index"])
    expect((await readdir(join(dir, "store", "catalog"))).sort()).toEqual(["storage.log", "storage.log.index"])
    const reopened = await NodePeer.open({ dir, types: [Task] })
    cleanup.push(() => reopened.close())
    expect(await reopened.db.list(Task)).toHaveLength(20)
  })

  it("moves a store written in automerge-repo's nodefs layout into the log, losing nothing", async () => {
    const dir = await tempDir()
    const store = join(dir, "store")
    await mkdir(store, { recursive: true })
    const storage = new NodeFSStorageAdapter(store)
    const db = await Database.open({ repo: new Repo({ storage, network: [] }), machine: await Machine.generate(), storage, types: [Task] })
    const created = []
    for (let i = 0; i < 10; i++) created.push(await db.create(Task, { title: `old ${i}`, votes: i }))
    await db.change(Task, created[0]!.id, draft => draft.votes.increment(5))
    await db.close()
    expect((await readdir(store)).length).toBeGreaterThan(1)

    const peer = await NodePeer.open({ dir, types: [Task] })
    expect((await readdir(store)).sort()).toEqual(["catalog", "storage.log"])
    const titles = (await peer.db.list(Task)).map(doc => doc.data.title).sort()
    expect(titles).toEqual(created.map(doc => doc.data.title).sort())
    expect((await peer.db.get(Task, created[0]!.id)).data.votes).toBe(5)
    await peer.db.create(Task, { title: "new", votes: 0 })
    await peer.close()
    const again = await NodePeer.open({ dir, types: [Task] })
    cleanup.push(() => again.close())
    expect(await again.db.list(Task)).toHaveLength(11)
  })

  it("opens after a damaged catalog record, rebuilds the catalog and keeps every document", async () => {
    const dir = await tempDir()
    const peer = await NodePeer.open({ dir, types: [Task] })
    const ids = []
    for (let i = 0; i < 10; i++) ids.push((await peer.db.create(Task, { title: `task ${i}`, votes: 0 })).id)
    await peer.close()
    // Flip bytes in the last record of the catalog's log.
    const log = join(dir, "store", "catalog", "storage.log")
    const size = (await stat(log)).size
    const handle = await open(log, "r+")
    await handle.write(Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, size - 20)
    await handle.close()

    const messages: string[] = []
    const reopened = await NodePeer.open({ dir, types: [Task], log: message => messages.push(message) })
    cleanup.push(() => reopened.close())
    expect(messages.join("\n")).toMatch(/damaged record/)
    expect(reopened.db.repairs).toBeDefined()
    expect((await reopened.db.list(Task)).map(doc => doc.id).sort()).toEqual([...ids].sort())
  })

  it("reports a document whose first chunk was lost as damaged (its later change held back), never as not a Cairn document", async () => {
    // Found by the damage soak (1 run in 4): the later change, whose dependencies were lost with the first chunk,
    // is held in the loaded document unapplied; taken as present, the empty document was quarantined "no envelope"
    // and never fetched again.
    const dir = await tempDir()
    const peer = await NodePeer.open({ dir, types: [Task] })
    const { id } = await peer.db.create(Task, { title: "two chunks", votes: 0 })
    await peer.close()
    // A later change stored as a chunk of its own (as a peer's arrives), which the next open lists in the catalog.
    let store = await openStorage(join(dir, "store"))
    const [first] = [...(await store.loadRange([id, "snapshot"])), ...(await store.loadRange([id, "incremental"]))]
    const created = A.load<any>(first!.data!)
    const changed = A.change(A.clone(created), doc => {
      doc.data.votes.increment(3)
    })
    await store.save([id, "incremental", "later"], A.saveSince(changed, A.getHeads(created)))
    await store.close()
    const caughtUp = await NodePeer.open({ dir, types: [Task] })
    expect((await caughtUp.db.get(Task, id)).data.votes).toBe(3)
    await caughtUp.close()
    store = await openStorage(join(dir, "store"))
    expect((await store.loadRange([id])).map(chunk => chunk.key.join("/")).sort()).toEqual(
      [first!.key.join("/"), `${id}/incremental/later`].sort(),
    )
    await store.remove(first!.key)
    await store.close()

    const reopened = await NodePeer.open({ dir, types: [Task] })
    cleanup.push(() => reopened.close())
    const damaged = await reopened.db.verify()
    expect(damaged.map(d => d.id)).toEqual([id])
    expect(reopened.db.quarantined()).toEqual([])
    await expect(reopened.db.get(id)).rejects.toThrow(/damaged/)
  })

  it("drops the Repo's writes once the peer has closed its store (late sync-state saves), instead of failing them", async () => {
    // Found by the soak: automerge-repo saves sync states from throttled timers that fire after close; on the
    // closed log each was an unhandled StorageClosedError.
    const store = await openStorage(join(await tempDir(), "store"))
    const forRepo = storageForRepo(store, () => {})
    await forRepo.save(["doc", "sync-state", "peer"], new Uint8Array([1]))
    forRepo.retire()
    await store.close()
    await expect(store.save(["doc", "sync-state", "peer"], new Uint8Array([2]))).rejects.toThrow(/closed/)
    await expect(forRepo.save(["doc", "sync-state", "peer"], new Uint8Array([2]))).resolves.toBeUndefined()
    await expect(forRepo.remove(["doc", "sync-state", "peer"])).resolves.toBeUndefined()
  })
})
