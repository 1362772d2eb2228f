/**
 * Bugs the reliability runs found, each pinned by the smallest test that
 * showed it (in-process peers over real WebSockets on 127.0.0.1).
 */
import { setTimeout as sleep } from "node:timers/promises"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { Repo, type Chunk, type StorageAdapterInterface, type StorageKey } from "@automerge/automerge-repo"
import { Database, Machine } from "@cairn/core"
import { NodePeer } from "@cairn/node"
import { Task, types } from "./lib/types.mjs"

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function open(options: { dir?: string; relay?: boolean; wants?: string[] | "*" } = {}): Promise<NodePeer> {
  let dir = options.dir
  if (!dir) {
    const made = await mkdtemp(join(tmpdir(), "cairn-regression-"))
    cleanup.push(() => rm(made, { recursive: true, force: true }))
    dir = made
  }
  const peer = await NodePeer.open({ dir, types: options.relay ? [] : types, relay: options.relay ?? false, wants: options.wants ?? "*" })
  cleanup.push(() => peer.close())
  return peer
}

const headsOf = (peer: NodePeer, id: string) => peer.db.catalog.get(id)?.heads.join()

describe("regressions found by the reliability runs", () => {
  it("a change that arrives by live sync for a document the receiver never loaded reaches its catalog (fuzz seed 8)", async () => {
    const relay = await open({ relay: true })
    const { url } = await relay.listen({ port: 0 })
    const writer = await open()
    writer.connect(url)
    const doc = await writer.db.create(Task, { title: "t" })
    await writer.whenSynced(10_000)
    await expect.poll(() => headsOf(relay, doc.id), { timeout: 5_000 }).toBe(headsOf(writer, doc.id))
    // Watching the document turns on automerge-repo's live sync for it: the relay's repo loads it on its own.
    // Hold the relay's replication messages back so the live sync lands (and is saved) before the batched pull.
    const receive = relay.replicator.receive.bind(relay.replicator)
    relay.replicator.receive = (peerId, message) => void setTimeout(() => receive(peerId, message), 400)
    const stop = writer.db.subscribe(doc.id, () => {})
    await writer.db.change(Task, doc.id, d => void d.votes.increment(6))
    await sleep(1_000)
    await writer.whenSynced(10_000)
    await relay.whenSynced(10_000)
    expect(headsOf(relay, doc.id)).toBe(headsOf(writer, doc.id))
    expect((await relay.db.get(doc.id)).data.votes).toBe(6)
    stop()
  })

  it("a change that changes nothing leaves modifiedAt alone, so peers with equal heads agree on it (fuzz seed 3)", async () => {
    const server = await open()
    const { url } = await server.listen({ port: 0 })
    const client = await open()
    client.connect(url)
    const doc = await server.db.create(Task, { title: "t" })
    await client.whenSynced(10_000)
    await expect.poll(() => headsOf(client, doc.id), { timeout: 5_000 }).toBe(headsOf(server, doc.id))
    await sleep(5)
    await server.db.change(Task, doc.id, d => void delete d.meta.absent)
    await client.whenSynced(10_000)
    await server.whenSynced(10_000)
    expect(headsOf(client, doc.id)).toBe(headsOf(server, doc.id))
    expect((await server.db.get(doc.id)).modifiedAt).toBe((await client.db.get(doc.id)).modifiedAt)
  })

  it("a local change made while a peer's copy of the same document is being ingested is kept and reaches the peer (fuzz seed 4)", async () => {
    const server = await open()
    const { url } = await server.listen({ port: 0 })
    const client = await open()
    const doc = await server.db.create(Task, { title: "t" })
    client.connect(url)
    await client.whenSynced(10_000)
    client.network.disconnect(url)
    await server.db.change(Task, doc.id, d => void (d.title = "from the server"))
    // Hold the client's ingest of the document while it writes the server's change (built on the copy it had read
    // or cached before), and make a local change meanwhile.
    const storage = (client.db.replica.store as unknown as { storage: StorageAdapterInterface }).storage
    const save = storage.save.bind(storage)
    let entered!: () => void
    const ingestWaiting = new Promise<void>(resolve => (entered = resolve))
    let release!: () => void
    const released = new Promise<void>(resolve => (release = resolve))
    storage.save = async (key: StorageKey, data: Uint8Array) => {
      if (key[0] === doc.id && String(key[2]).startsWith("cairn-")) {
        entered()
        await released
      }
      return save(key, data)
    }
    client.connect(url)
    await ingestWaiting
    await client.db.change(Task, doc.id, d => void d.tags.push("from the client"))
    storage.save = save
    release()
    await sleep(200)
    await client.whenSynced(10_000)
    await server.whenSynced(10_000)
    await expect.poll(() => headsOf(server, doc.id), { timeout: 5_000 }).toBe(headsOf(client, doc.id))
    for (const peer of [server, client]) {
      const data = (await peer.db.get(Task, doc.id)).data
      expect(data.title).toBe("from the server")
      expect(data.tags).toEqual(["from the client"])
    }
  })

  it("purging a loaded document does not report it quarantined (fuzz seed 10)", async () => {
    const peer = await open()
    const doc = await peer.db.create(Task, { title: "t" })
    await peer.db.change(Task, doc.id, d => void (d.done = true))
    const quarantined: string[] = []
    peer.db.on("quarantine", event => void quarantined.push(`${event.id}: ${event.reason}`))
    await peer.db.delete(doc.id)
    await peer.db.purge(doc.id)
    expect(quarantined).toEqual([])
    expect(peer.db.catalog.get(doc.id)?.purged).toBe(true)
    expect(peer.db.catalog.get(doc.id)?.quarantined).toBeUndefined()
  })

  it("a catalog flush never writes the entry of a document that is not on disk yet (crash seed 7)", async () => {
    // Storage in memory whose document saves can be held back, and which keeps a copy of itself as it was right
    // after each catalog write: that copy is what a process killed at that moment would find.
    const data = new Map<string, Uint8Array>()
    let held: Promise<void> | undefined
    let saveHeld!: () => void
    const firstSaveHeld = new Promise<void>(resolve => (saveHeld = resolve))
    let afterCatalogWrite: Map<string, Uint8Array> | undefined
    const keyOf = (key: StorageKey) => key.join("\u0000")
    const storage: StorageAdapterInterface = {
      load: async key => data.get(keyOf(key)),
      save: async (key, value) => {
        if (held && (key[1] === "snapshot" || key[1] === "incremental")) {
          saveHeld()
          await held
        }
        data.set(keyOf(key), value)
        if (key[0] === "cairn-catalog") afterCatalogWrite = new Map(data)
      },
      remove: async key => void data.delete(keyOf(key)),
      loadRange: async prefix =>
        [...data]
          .filter(([k]) => prefix.every((p, i) => k.split("\u0000")[i] === p))
          .map(([k, value]): Chunk => ({ key: k.split("\u0000"), data: value })),
      removeRange: async prefix => {
        for (const k of [...data.keys()]) if (prefix.every((p, i) => k.split("\u0000")[i] === p)) data.delete(k)
      },
    }
    const db = await Database.open({ repo: new Repo({ storage, network: [] }), machine: await Machine.generate(), storage, types })
    let release!: () => void
    held = new Promise(resolve => (release = resolve))
    const first = db.create(Task, { title: "first" })
    await firstSaveHeld
    // While the first group waits on its document save, a second document is created (its group queues behind).
    const second = db.create(Task, { title: "second" })
    await sleep(20)
    held = undefined
    release()
    const [a, b] = await Promise.all([first, second])
    expect(afterCatalogWrite).toBeDefined()
    // Reopen from the state right after the first catalog write: every document its catalog lists must be there.
    const crashed = new Map(afterCatalogWrite!)
    data.clear()
    for (const [k, v] of crashed) data.set(k, v)
    const reopened = await Database.open({ repo: new Repo({ storage, network: [] }), machine: await Machine.generate(), storage, types })
    for (const doc of [a, b]) {
      if (reopened.catalog.has(doc.id)) expect((await reopened.get(doc.id)).data.title).toBe(doc.data.title)
    }
    expect(await reopened.verify()).toEqual([])
  })

  // Once a catalog write had failed, `Catalog.flush` chained every later write onto the rejected promise (every
  // later write failed until a restart), and the entries of the failed write were no longer marked dirty.
  it("a failed catalog write (a full disk) does not make every later write fail once space is back, and is written again", async () => {
    const data = new Map<string, Uint8Array>()
    let full = false
    const keyOf = (key: StorageKey) => key.join("\u0000")
    const storage: StorageAdapterInterface = {
      load: async key => data.get(keyOf(key)),
      save: async (key, value) => {
        if (full && key[0] === "cairn-catalog") throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })
        data.set(keyOf(key), value)
      },
      remove: async key => void data.delete(keyOf(key)),
      loadRange: async prefix =>
        [...data]
          .filter(([k]) => prefix.every((p, i) => k.split("\u0000")[i] === p))
          .map(([k, value]): Chunk => ({ key: k.split("\u0000"), data: value })),
      removeRange: async prefix => {
        for (const k of [...data.keys()]) if (prefix.every((p, i) => k.split("\u0000")[i] === p)) data.delete(k)
      },
    }
    const db = await Database.open({ repo: new Repo({ storage, network: [] }), machine: await Machine.generate(), storage, types })
    full = true
    await expect(db.create(Task, { title: "while full" })).rejects.toThrow(/ENOSPC/)
    full = false
    const after = await db.create(Task, { title: "space is back" })
    expect((await db.get(Task, after.id)).data.title).toBe("space is back")
    await db.close()
    // The entry the failed write held is written by the next flush: after a reopen both documents are listed.
    const reopened = await Database.open({ repo: new Repo({ storage, network: [] }), machine: await Machine.generate(), storage, types })
    expect((await reopened.query(Task)).map(doc => doc.data.title).sort()).toEqual(["space is back", "while full"])
  })
})
