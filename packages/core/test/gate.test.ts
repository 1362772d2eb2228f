/**
 * The one gate for automerge-repo's messages (Replicator.admitRepoMessage),
 * kind by kind: what passes, what is dropped, and what gets the answer a
 * missing document gets.
 */
import * as A from "@automerge/automerge"
import type { Message } from "@automerge/automerge-repo"
import { describe, expect, it } from "vitest"
import { defineType, f, Replicator, type ControlMessage } from "../src/index.js"
import { openDb, unknownId } from "./helpers.js"
import { Machine } from "../src/identity/Machine.js"
import { newSessionActor } from "../src/identity/actor.js"
import { makeVouch, packVouches } from "../src/identity/vouch.js"

const Task = defineType("task", { fields: { title: f.string() } })
const Note = defineType("note", { fields: { body: f.text() } })

async function gated(grants: { read: string[] | "*"; write: string[] | "*" }) {
  const { db } = await openDb({ types: [Task, Note] })
  const replicator = new Replicator(db, { wants: "*" })
  const sent: ControlMessage[] = []
  replicator.connected({
    peerId: "peer",
    info: { protocol: 1, machineId: "m".repeat(32), wants: "*" },
    grants,
    send: message => void sent.push(message),
  })
  const task = await db.create(Task, { title: "t" })
  const note = await db.create(Note, { body: "n" })
  const changed = A.change(A.load<any>((await db.replica.store.readStored(task.id))!), doc => (doc.data.title = new A.ImmutableString("x")))
  const carrying = A.encodeSyncMessage({ heads: A.getHeads(changed), need: [], have: [], changes: [A.getLastLocalChange(changed)!] })
  const empty = A.generateSyncMessage(A.init(), A.initSyncState())[1]!
  const message = (type: string, documentId: string, data?: Uint8Array) =>
    ({ type, senderId: "peer", targetId: "me", documentId, ...(data ? { data } : {}) }) as unknown as Message
  return { db, replicator, sent, task, note, carrying, empty, message }
}

const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts))

describe("the gate for automerge-repo messages", () => {
  it("passes sync and request without changes on readable documents, and drops changes the peer may not write, telling it", async () => {
    const { replicator, sent, task, carrying, empty, message } = await gated({ read: "*", write: ["note"] })
    expect(replicator.admitRepoMessage("peer", message("request", task.id, empty))).toBe("pass")
    expect(replicator.admitRepoMessage("peer", message("sync", task.id, empty))).toBe("pass")
    for (const kind of ["sync", "request"]) expect(replicator.admitRepoMessage("peer", message(kind, task.id, carrying))).toBe("drop")
    expect(sent.filter(m => m.t === "denied").map(m => (m as { ids: string[] }).ids)).toEqual([[task.id], [task.id]])
    expect(replicator.admitRepoMessage("peer", message("sync", task.id, new Uint8Array([1, 2, 3])))).toBe("drop")
  })

  it("answers a request for a hidden document as for a missing one, and never answers a doc-unavailable", async () => {
    const { replicator, note, empty, message } = await gated({ read: ["task"], write: ["task"] })
    for (const id of [note.id, unknownId()]) {
      expect(replicator.admitRepoMessage("peer", message("request", id, empty))).toBe("unavailable")
      expect(replicator.admitRepoMessage("peer", message("sync", id, empty))).toBe("unavailable")
      expect(replicator.admitRepoMessage("peer", message("doc-unavailable", id))).toBe("drop")
      expect(replicator.admitRepoMessage("peer", message("ephemeral", id, new Uint8Array([1])))).toBe("drop")
    }
  })

  it("passes an ephemeral message about a readable document up to 4 KiB, and drops a larger one or one without data", async () => {
    const { replicator, task, message } = await gated({ read: "*", write: [] })
    expect(replicator.admitRepoMessage("peer", message("ephemeral", task.id, new Uint8Array(4096)))).toBe("pass")
    expect(replicator.admitRepoMessage("peer", message("ephemeral", task.id, new Uint8Array(4097)))).toBe("drop")
    expect(replicator.admitRepoMessage("peer", message("ephemeral", task.id))).toBe("drop")
  })

  it("passes a writer's changes in every form a sync message carries them, and refuses a fixed key rewritten in any", async () => {
    // Automerge runs several changes together in one entry of a sync message, or sends a whole document; read as one
    // change each they failed to decode, and the gate dropped every such message: live sync of a document being typed
    // into stopped, and its keystrokes reached the other peer only by the batched pull.
    const { db, replicator, sent, task, message } = await gated({ read: "*", write: "*" })
    const writer = await Machine.generate()
    const actor = { actor: newSessionActor(writer.machineId) as A.ActorId }
    const base = A.load<any>((await db.replica.store.readStored(task.id))!, actor)
    const one = A.change(A.clone(base, actor), doc => (doc.data.title = "one"))
    const two = A.change(A.clone(one, actor), doc => (doc.data.title = "two"))
    const runTogether = concat(A.getChanges(base, two))
    const sync = (changes: Uint8Array[]) => message("sync", task.id, A.encodeSyncMessage({ heads: [], need: [], have: [], changes }))
    // The writer's vouch for its changes goes just before each message (as the sending adapter does), with the
    // creator's for the creation a whole document carries.
    const vouched = async (doc: A.Doc<unknown>, changes: Uint8Array[]) => {
      const vouches = [...(await db.replica.vouchesFor(task.id)), await makeVouch(writer, task.id, A.getHeads(doc)[0]!)]
      replicator.receive("peer", { t: "vouches", id: task.id, vouches: packVouches(vouches) })
      return replicator.admitRepoMessage("peer", sync(changes))
    }
    expect(await vouched(two, [runTogether])).toBe("pass")
    expect(await vouched(two, [A.save(two)])).toBe("pass")
    expect(await vouched(two, [A.getLastLocalChange(one)!, A.getLastLocalChange(two)!])).toBe("pass")

    const retyped = A.change(A.clone(one, actor), doc => (doc.type = new A.ImmutableString("note")))
    for (const changes of [[A.getLastLocalChange(retyped)!], [concat(A.getChanges(base, retyped))], [A.save(retyped)]])
      expect(await vouched(retyped, changes)).toBe("drop")
    const denied = sent.filter(m => m.t === "denied") as { ids: string[]; reason: string }[]
    expect(denied.map(m => m.reason)).toEqual(Array(3).fill("a document's type is fixed at its creation and cannot be changed"))
  })

  it("refuses changes no vouch of the machine they name reaches: none, another machine's, another document's, or the next message's", async () => {
    const { db, replicator, sent, task, note, message } = await gated({ read: "*", write: "*" })
    const [writer, forger] = await Promise.all([Machine.generate(), Machine.generate()])
    const actor = { actor: newSessionActor(writer.machineId) as A.ActorId }
    const base = A.load<any>((await db.replica.store.readStored(task.id))!, actor)
    const one = A.change(A.clone(base, actor), doc => (doc.data.title = "one"))
    const head = A.getHeads(one)[0]!
    const sync = () =>
      message("sync", task.id, A.encodeSyncMessage({ heads: [], need: [], have: [], changes: [A.getLastLocalChange(one)!] }))
    const send = (vouches: Uint8Array[]) => replicator.receive("peer", { t: "vouches", id: task.id, vouches: packVouches(vouches) })
    expect(await replicator.admitRepoMessage("peer", sync())).toBe("drop")
    // A peer that passes on the change, signing it itself: the change names the writer's machine, not the forger's.
    send([await makeVouch(forger, task.id, head)])
    expect(await replicator.admitRepoMessage("peer", sync())).toBe("drop")
    // The writer's vouch for this change in another document does not hold here.
    send([await makeVouch(writer, note.id, head)])
    expect(await replicator.admitRepoMessage("peer", sync())).toBe("drop")
    // Bytes altered: not a vouch at all.
    const broken = await makeVouch(writer, task.id, head)
    broken[100] = broken[100]! ^ 1
    send([broken])
    expect(await replicator.admitRepoMessage("peer", sync())).toBe("drop")
    const denied = sent.filter(m => m.t === "denied") as { ids: string[]; reason: string }[]
    expect(denied).toHaveLength(4)
    for (const { ids, reason } of denied) {
      expect(ids).toEqual([task.id])
      expect(reason).toMatch(new RegExp(`made as machine ${writer.machineId} without that machine's signature`))
    }
    // Vouches are for the message that follows them: one message does not use up the next one's.
    send([await makeVouch(writer, task.id, head)])
    const first = replicator.admitRepoMessage("peer", sync())
    const second = replicator.admitRepoMessage("peer", sync())
    expect(await first).toBe("pass")
    expect(await second).toBe("drop")
    expect(db.catalog.get(task.id)?.quarantined).toBeUndefined()
  })

  it("drops every kind it does not know, and everything from a peer with no session", async () => {
    const { replicator, task, empty, message } = await gated({ read: "*", write: "*" })
    for (const kind of ["remote-heads-changed", "remote-subscription-change", "a-kind-from-the-future"]) {
      expect(replicator.admitRepoMessage("peer", message(kind, task.id, empty))).toBe("drop")
    }
    expect(replicator.admitRepoMessage("stranger", message("request", task.id, empty))).toBe("drop")
    replicator.disconnected("peer")
    expect(replicator.admitRepoMessage("peer", message("request", task.id, empty))).toBe("drop")
  })
})
