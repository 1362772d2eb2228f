import { mkdtemp, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { defineType, f } from "@cairn/core"
import { DirectoryLockedError, NodePeer } from "../src/index.js"

const Task = defineType("task", { fields: { title: f.string(), done: f.boolean().default(false) } })
const Note = defineType("note", { fields: { body: f.text() } })

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-node-"))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function peer(options: Partial<Parameters<typeof NodePeer.open>[0]> = {}): Promise<NodePeer> {
  const p = await NodePeer.open({ dir: options.dir ?? (await tempDir()), types: [Task, Note], ...options })
  cleanup.push(() => p.close())
  return p
}

describe("NodePeer", () => {
  it("keeps its identity and documents across reopen", async () => {
    const dir = await tempDir()
    const first = await NodePeer.open({ dir, types: [Task] })
    const doc = await first.db.create(Task, { title: "persist me" })
    const machineId = first.machineId
    await first.close()
    const second = await peer({ dir })
    expect(second.machineId).toBe(machineId)
    expect((await second.db.get(Task, doc.id)).data.title).toBe("persist me")
  })

  it("rewrites its types file on open only when the types changed", async () => {
    const dir = await tempDir()
    await (await NodePeer.open({ dir, types: [Task] })).close()
    const written = await stat(join(dir, "types.json"))
    await (await NodePeer.open({ dir, types: [Task] })).close()
    expect((await stat(join(dir, "types.json"))).ino).toBe(written.ino)
    const reopened = await peer({ dir, types: [Task, Note] })
    expect((await stat(join(dir, "types.json"))).ino).not.toBe(written.ino)
    expect((await reopened.directory.types()).map(t => t.name).sort()).toEqual(["note", "task"])
  })

  it("refuses a second opener of the same directory", async () => {
    const dir = await tempDir()
    await peer({ dir })
    await expect(NodePeer.open({ dir })).rejects.toBeInstanceOf(DirectoryLockedError)
  })

  it("syncs over WebSocket with a type filter, both ways and live", async () => {
    const server = await peer()
    const client = await peer({ wants: ["task"] })
    const tasks = await Promise.all(Array.from({ length: 30 }, (_, i) => server.db.create(Task, { title: `t${i}` })))
    await server.db.create(Note, { body: "secret" })
    const mine = await client.db.create(Task, { title: "from client" })
    const { url } = await server.listen({ port: 0 })
    client.connect(url)
    await client.whenSynced(10_000)
    await server.whenSynced(10_000)
    expect((await client.db.list(Task)).length).toBe(31)
    expect(client.db.catalog.idsOfType("note").size).toBe(0)
    expect((await server.db.get(Task, mine.id)).data.title).toBe("from client")
    const live = await server.db.create(Task, { title: "live" })
    await expect.poll(() => client.db.catalog.has(live.id), { timeout: 5000 }).toBe(true)
    await client.db.change(Task, tasks[0]!.id, d => {
      d.done = true
    })
    await expect.poll(async () => (await server.db.get(Task, tasks[0]!.id)).data.done, { timeout: 5000 }).toBe(true)
  })

  it("two machines typing into one note at once: every keystroke of each is vouched for and taken by the other", async () => {
    // Live sync then sends changes one by one, as bundles and as whole documents; each form goes with the vouches
    // of the changes it carries (identity/vouch.ts in @cairn/core), or the other peer refuses it and logs why.
    const logs: string[] = []
    const [a, b] = [await peer({ log: message => logs.push(message) }), await peer({ log: message => logs.push(message) })]
    const { url } = await a.listen({ port: 0 })
    b.connect(url)
    await b.whenSynced(10_000)
    const note = await a.db.create(Note, { body: "" })
    await a.whenSynced(10_000)
    const stops = [a.db.subscribe(note.id, () => {}), b.db.subscribe(note.id, () => {})]
    const type = async (on: NodePeer, char: string) => {
      const acks: Promise<unknown>[] = []
      for (let k = 0; k < 150; k++) {
        await new Promise(resolve => setTimeout(resolve, 4))
        acks.push(on.db.change(Note, note.id, draft => void draft.body.splice(draft.body.length, 0, char)))
      }
      await Promise.all(acks)
    }
    await Promise.all([type(a, "a"), type(b, "b")])
    const count = async (on: NodePeer) => {
      const body = String((await on.db.get(Note, note.id)).data.body)
      return [...body].filter(c => c === "a").length + [...body].filter(c => c === "b").length
    }
    const deadline = Date.now() + 15_000
    while ((await count(a)) < 300 || (await count(b)) < 300) {
      if (Date.now() > deadline) break
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    for (const stop of stops) stop()
    expect(logs.filter(line => line.includes("refused"))).toEqual([])
    expect([await count(a), await count(b)]).toEqual([300, 300])
  })

  it("deflates the batches it syncs: fewer bytes arrive than the documents weigh", async () => {
    const server = await peer()
    const client = await peer()
    const tasks = await Promise.all(Array.from({ length: 200 }, (_, i) => server.db.create(Task, { title: `task ${i}` })))
    let documentBytes = 0
    // Each with the vouches it is sent with (128 bytes each: identity/vouch.ts in @cairn/core).
    for (const task of tasks)
      documentBytes +=
        (await server.db.replica.bytesFor(task.id, []))!.byteLength + (await server.db.replica.vouchesFor(task.id)).length * 128
    const { url } = await server.listen({ port: 0 })
    client.connect(url)
    await client.whenSynced(10_000)
    expect(client.db.catalog.idsOfType("task").size).toBe(200)
    // The documents alone, uncompressed, outweigh everything the client received (offers and batches) by half again.
    expect(client.network.traffic().bytesIn).toBeLessThan(documentBytes / 1.5)
  })
})
