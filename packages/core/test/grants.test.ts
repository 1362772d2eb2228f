/**
 * Read and write grants in replication, case by case: the bugs that
 * replication.property.test.ts found, each as a plain example.
 */
import { describe, expect, it } from "vitest"
import { defineType, f, Replicator, type ControlMessage, type Grants, type TypeSelection } from "../src/index.js"
import { openDb } from "./helpers.js"

const Task = defineType("task", { fields: { title: f.string() } })
const Note = defineType("note", { fields: { title: f.string() } })

/** A peer whose grants for the other can be changed between connections. */
async function peer(wants: TypeSelection, grants: Grants) {
  const opened = await openDb({ types: [Task, Note] })
  const peer = { ...opened, grants, replicator: undefined as unknown as Replicator }
  peer.replicator = new Replicator(opened.db, { wants, storage: opened.storage })
  return peer
}

type Peer = Awaited<ReturnType<typeof peer>>

/** Connect two peers by an in-memory link; returns a function that cuts it. */
function connect(a: Peer, b: Peer): () => void {
  let cut = false
  const deliver = (to: Replicator, from: string) => (message: ControlMessage) => {
    setTimeout(() => cut || to.receive(from, structuredClone(message)))
  }
  a.replicator.connected({ peerId: "b", info: b.replicator.localInfo(), grants: a.grants, send: deliver(b.replicator, "a") })
  b.replicator.connected({ peerId: "a", info: a.replicator.localInfo(), grants: b.grants, send: deliver(a.replicator, "b") })
  return () => {
    cut = true
    a.replicator.disconnected("b")
    b.replicator.disconnected("a")
  }
}

async function synced(...peers: Peer[]) {
  for (const p of peers) await p.replicator.whenSynced(undefined, 5000)
}

describe("grants", () => {
  it("a widened read grant brings the documents of the newly readable type that were there before", async () => {
    const server = await peer("*", { read: ["task"], write: "*" })
    const client = await peer("*", { read: "*", write: "*" })
    const note = await server.db.create(Note, { title: "written before the grant" })
    const task = await server.db.create(Task, { title: "shared" })
    let disconnect = connect(server, client)
    await synced(server, client)
    expect(client.db.catalog.has(task.id)).toBe(true)
    expect(client.db.catalog.has(note.id)).toBe(false)
    disconnect()

    server.grants = { read: ["task", "note"], write: "*" }
    disconnect = connect(server, client)
    await synced(server, client)
    expect(client.db.catalog.has(note.id)).toBe(true)
    disconnect()
  })
})
