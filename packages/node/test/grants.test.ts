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
