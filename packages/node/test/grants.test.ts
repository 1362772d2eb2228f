import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { defineType, f } from "@cairn/core"
import { NodePeer } from "../src/index.js"

const Task = defineType("task", { fields: { title: f.string() } })
const Note = defineType("note", { fields: { body: f.text() } })
const dirs: string[] = []
const peers: NodePeer[] = []
afterAll(async () => {
  for (const peer of peers) await peer.close()
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

async function open(options: Partial<Parameters<typeof NodePeer.open>[0]> = {}): Promise<NodePeer> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-grants-"))
  dirs.push(dir)
  const peer = await NodePeer.open({ dir, types: [Task, Note], auth: { mode: "trust" }, ...options })
  peers.push(peer)
  return peer
}

describe("grants", () => {
  it("a machine that may read only tasks is refused a note it asks for by id", async () => {
    const server = await open()
    const client = await open({ wants: "*" })
    await server.trust.trust(client.db.machine.publicKey, { read: ["task"], write: [] })
    await client.trust.trust(server.db.machine.publicKey, { read: "*", write: "*" })
    const note = await server.db.create(Note, { body: "private" })
    const task = await server.db.create(Task, { title: "shared" })
    const { url } = await server.listen({ port: 0 })
    client.connect(url)
    await client.whenSynced(10_000)
    expect(client.db.catalog.has(task.id)).toBe(true)
    expect(client.db.catalog.has(note.id)).toBe(false)
    // Asking automerge-repo for the note by its id: the server answers that it is unavailable.
    await expect(client.repo.find(note.id as never)).rejects.toThrow(/unavailable/)
    expect(client.db.catalog.has(note.id)).toBe(false)
  })
})

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

describe("a change of the trust list reaches connections already open", () => {
  it("a machine removed is disconnected and refused; one whose grants narrowed reconnects with the new ones only", {
    timeout: 30_000,
  }, async () => {
    const server = await open()
    const removed = await open({ wants: "*" })
    const narrowed = await open({ wants: "*" })
    for (const client of [removed, narrowed]) {
      await server.trust.trust(client.db.machine.publicKey, { read: "*", write: "*" })
      await client.trust.trust(server.db.machine.publicKey, { read: "*", write: "*" })
    }
    const { url } = await server.listen({ port: 0 })
    removed.connect(url)
    narrowed.connect(url)
    const client = (peer: NodePeer) => peer.network.clients()[0]!
    await removed.whenSynced(10_000)
    await narrowed.whenSynced(10_000)

    expect(await server.trust.untrust(removed.db.machine.publicKey)).toBe(true)
    await until(() => client(removed).status === "refused")
    expect(client(removed).refusal).toMatch(/is not trusted here/)
    // Nothing made after the removal reaches it, and what it writes is not taken.
    const afterRemoval = await server.db.create(Task, { title: "after the removal" })
    const fromRemoved = await removed.db.create(Task, { title: "from a removed machine" })
    await until(() => narrowed.db.catalog.has(afterRemoval.id))
    expect(removed.db.catalog.has(afterRemoval.id)).toBe(false)
    expect(server.db.catalog.has(fromRemoved.id)).toBe(false)

    await server.trust.trust(narrowed.db.machine.publicKey, { read: ["note"], write: [] })
    // Closed as the server going away, so it reconnects, and is admitted with read "note" only.
    await until(() => client(narrowed).status !== "connected")
    await until(() => client(narrowed).status === "connected")
    const note = await server.db.create(Note, { body: "still shared" })
    const task = await server.db.create(Task, { title: "no longer shared" })
    await until(() => narrowed.db.catalog.has(note.id))
    await narrowed.whenSynced(10_000)
    expect(narrowed.db.catalog.has(task.id)).toBe(false)
  })
})
