import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { defineType, f, Replicator, TimeoutError, type ControlMessage, type ReplicatorOptions, type TypeSelection } from "../src/index.js"
import { type MemoryStorage, openDb, sleep, waitFor } from "./helpers.js"

const Task = defineType("task", { fields: { title: f.string(), done: f.boolean().default(false) } })
const Note = defineType("note", { fields: { body: f.text() } })

/**
 * Two replicators joined by an in-memory link that delivers control messages asynchronously and logs them.
 * `lose` drops the messages it returns true for (on the wire, never delivered).
 */
async function pair(
  wantsA: TypeSelection,
  wantsB: TypeSelection,
  options: {
    storageA?: MemoryStorage
    storageB?: MemoryStorage
    settings?: Partial<ReplicatorOptions>
    lose?: (from: string, message: ControlMessage) => boolean
  } = {},
) {
  const a = await openDb({ types: [Task, Note], storage: options.storageA })
  const b = await openDb({ types: [Task, Note], storage: options.storageB })
  const stalls: { at: string; reason: string }[] = []
  const ra = new Replicator(a.db, {
    wants: wantsA,
    storage: a.storage,
    ...options.settings,
    onStall: (_, reason) => stalls.push({ at: "a", reason }),
  })
  const rb = new Replicator(b.db, {
    wants: wantsB,
    storage: b.storage,
    ...options.settings,
    onStall: (_, reason) => stalls.push({ at: "b", reason }),
  })
  const wire: { from: string; message: ControlMessage }[] = []
  const deliver = (from: string, to: Replicator, peerId: string) => (message: ControlMessage) => {
    wire.push({ from, message })
    if (options.lose?.(from, message)) return
    setTimeout(() => to.receive(peerId, message), 0)
  }
  const connect = () => {
    ra.connected({ peerId: "b", info: rb.localInfo(), send: deliver("a", rb, "a") })
    rb.connected({ peerId: "a", info: ra.localInfo(), send: deliver("b", ra, "b") })
  }
  const disconnect = () => {
    ra.disconnected("b")
    rb.disconnected("a")
  }
  return { a, b, ra, rb, wire, stalls, connect, disconnect }
}

describe("Replicator", () => {
  it("sends only the types a peer wants and never mentions other ids", async () => {
    const { a, b, ra, rb, wire, connect } = await pair("*", ["task"])
    const tasks = await Promise.all(Array.from({ length: 20 }, (_, i) => a.db.create(Task, { title: `t${i}` })))
    const notes = await Promise.all(Array.from({ length: 20 }, (_, i) => a.db.create(Note, { body: `n${i}` })))
    connect()
    await ra.whenSynced("b", 5000)
    await rb.whenSynced("a", 5000)
    expect((await b.db.list(Task)).map(d => d.id).sort()).toEqual(tasks.map(d => d.id).sort())
    expect(b.db.catalog.idsOfType("note").size).toBe(0)
    const transcript = JSON.stringify(wire.map(w => ({ ...w, message: { ...w.message, docs: undefined } })))
    for (const note of notes) expect(transcript).not.toContain(note.id)
  })

  it("moves only changed documents after a reconnect", async () => {
    const { a, b, ra, rb, wire, connect, disconnect } = await pair(["task"], ["task"])
    const tasks = await Promise.all(Array.from({ length: 100 }, (_, i) => a.db.create(Task, { title: `t${i}` })))
    connect()
    await ra.whenSynced("b", 5000)
    await rb.whenSynced("a", 5000)
    disconnect()
    await a.db.change(Task, tasks[3]!.id, d => {
      d.done = true
    })
    await b.db.change(Task, tasks[7]!.id, d => {
      d.title = "changed on b"
    })
    wire.length = 0
    connect()
    await waitFor(
      async () => (await b.db.get(Task, tasks[3]!.id)).data.done && (await a.db.get(Task, tasks[7]!.id)).data.title === "changed on b",
    )
    const offered = wire.flatMap(w => (w.message.t === "offer" ? w.message.entries : []))
    expect(offered.map(e => e.id).sort()).toEqual([tasks[3]!.id, tasks[7]!.id].sort())
  })

  it("does not offer a peer back the documents it has just sent", async () => {
    const { a, b, ra, rb, wire, connect } = await pair(["task"], ["task"])
    const tasks = await Promise.all(Array.from({ length: 50 }, (_, i) => a.db.create(Task, { title: `t${i}` })))
    connect()
    await waitFor(() => b.db.catalog.size === 50)
    await ra.whenSynced("b", 5000)
    await rb.whenSynced("a", 5000)
    // b pulled the 50 and a has pulled b since (b's catalog changed): a offered them, b offered none back.
    expect(wire.filter(w => w.from === "a").flatMap(w => (w.message.t === "offer" ? w.message.entries : [])).length).toBe(50)
    expect(wire.filter(w => w.from === "b" && w.message.t === "pulled").length).toBeGreaterThan(0)
    expect(wire.filter(w => w.from === "b").flatMap(w => (w.message.t === "offer" ? w.message.entries : []))).toEqual([])
    // A change b makes afterwards is still offered.
    await b.db.change(Task, tasks[0]!.id, d => {
      d.done = true
    })
    await waitFor(async () => (await a.db.get(Task, tasks[0]!.id)).data.done)
    expect(wire.filter(w => w.from === "b").flatMap(w => (w.message.t === "offer" ? w.message.entries.map(e => e.id) : []))).toEqual([
      tasks[0]!.id,
    ])
  })

  it("sends many offline changes as one compressed bundle, which the receiver stores and loads", async () => {
    const { a, b, ra, rb, wire, connect, disconnect } = await pair(["task"], ["task"])
    const doc = await a.db.create(Task, { title: "v0" })
    connect()
    await ra.whenSynced("b", 5000)
    await rb.whenSynced("a", 5000)
    disconnect()
    const before = A.getHeads((await a.db.replica.store.handle(doc.id)).doc())
    for (let i = 1; i <= 20; i++) {
      await a.db.change(Task, doc.id, d => {
        d.title = `v${i}`
      })
    }
    const oneByOne = A.saveSince((await a.db.replica.store.handle(doc.id)).doc(), before).byteLength
    wire.length = 0
    connect()
    await waitFor(async () => (await b.db.get(Task, doc.id)).data.title === "v20")
    const sent = wire.flatMap(w => (w.from === "a" && w.message.t === "docs" ? w.message.docs : []))
    expect(sent.map(d => d.id)).toEqual([doc.id])
    expect(sent[0]!.bytes.byteLength).toBeLessThan(oneByOne / 4)
    // What b stored loads with the rest in a database opened afresh on its storage.
    await rb.whenSynced("a", 5000)
    await b.db.close()
    const reopened = await openDb({ storage: b.storage, machine: b.machine, types: [Task] })
    expect((await reopened.db.get(Task, doc.id)).data.title).toBe("v20")
    expect(reopened.db.catalog.get(doc.id)?.heads).toEqual(a.db.catalog.get(doc.id)?.heads)
  })

  it("delivers documents created while connected", async () => {
    const { a, b, ra, connect } = await pair(["task"], ["task"])
    connect()
    await ra.whenSynced("b", 5000)
    const doc = await a.db.create(Task, { title: "live" })
    await waitFor(() => b.db.catalog.has(doc.id))
    expect((await b.db.get(Task, doc.id)).data.title).toBe("live")
  })

  it("replicates deletes and purges", async () => {
    const { a, b, ra, connect } = await pair(["task"], ["task"])
    const doc = await a.db.create(Task, { title: "to go" })
    connect()
    await waitFor(() => b.db.catalog.has(doc.id))
    await a.db.delete(doc.id)
    await waitFor(() => b.db.catalog.get(doc.id)?.deletedAt !== null)
    expect(await b.db.list(Task)).toEqual([])
    await a.db.purge(doc.id)
    await waitFor(() => b.db.catalog.get(doc.id)?.purged)
    await ra.whenSynced()
  })
  it("tells the peer it pulled from to catch up once per pull, not after every batch", async () => {
    const { a, b, ra, rb, wire, connect } = await pair(["task"], ["task"], { settings: { batchSize: 20 } })
    await Promise.all(Array.from({ length: 200 }, (_, i) => a.db.create(Task, { title: `t${i}` })))
    connect()
    await waitFor(() => b.db.catalog.size === 200)
    await rb.whenSynced("a", 5000)
    await ra.whenSynced("b", 5000)
    // Ten batches arrived; a needs none of them back, only its checkpoint of b moved past them: b says so as its pull
    // ends, so a pulls b once (at connect), not once more, nor ten times.
    expect(wire.filter(w => w.from === "b" && w.message.t === "notify").length).toBe(0)
    expect(wire.filter(w => w.from === "a" && w.message.t === "pull").length).toBe(1)
  })

  it("ends a reconnect with nothing changed on one side without a return leg, and its checkpoints hold", async () => {
    const { a, b, ra, rb, wire, connect, disconnect } = await pair(["task"], ["task"])
    const tasks = await Promise.all(Array.from({ length: 100 }, (_, i) => a.db.create(Task, { title: `t${i}` })))
    connect()
    await ra.whenSynced("b", 5000)
    await rb.whenSynced("a", 5000)
    disconnect()
    for (const task of tasks.slice(0, 10))
      await a.db.change(Task, task.id, d => {
        d.done = true
      })
    wire.length = 0
    connect()
    await rb.whenSynced("a", 5000)
    await ra.whenSynced("b", 5000)
    const kinds = (from: string) => wire.filter(w => w.from === from && w.message.t !== "definitions").map(w => w.message.t)
    // b pulls (pull, offer of 10, want, docs, pulled) while a pulls b and finds nothing (pull, empty offer, pulled);
    // b's pulled says the 10 it stored are a's own documents back, and a answers with its pulled: no notify, no second pull.
    expect(kinds("a").sort()).toEqual(["offer", "pull", "pulled", "pulled", "docs"].sort())
    expect(kinds("b").sort()).toEqual(["offer", "pull", "pulled", "want"].sort())
    const echo = wire.find(w => w.from === "b" && w.message.t === "pulled")!.message
    expect(echo).toMatchObject({ echo: { seq: b.db.catalog.durableSeq } })
    expect((await b.db.list(Task)).filter(t => t.data.done).length).toBe(10)
    // The checkpoints moved past all of it: the next reconnect offers nothing either way, and a change made on b later flows.
    disconnect()
    await b.db.change(Task, tasks[50]!.id, d => {
      d.title = "changed on b"
    })
    wire.length = 0
    connect()
    await waitFor(async () => (await a.db.get(Task, tasks[50]!.id)).data.title === "changed on b")
    await ra.whenSynced("b", 5000)
    await rb.whenSynced("a", 5000)
    const offered = wire.flatMap(w => (w.message.t === "offer" ? w.message.entries.map(e => `${w.from}:${e.id}`) : []))
    expect(offered).toEqual([`b:${tasks[50]!.id}`])
  })

  it("whenSynced follows the sessions' status: it resolves when a peer comes and syncs, and times out with TimeoutError", async () => {
    const { ra, rb, connect } = await pair(["task"], ["task"])
    await expect(ra.whenSynced(undefined, 50)).rejects.toBeInstanceOf(TimeoutError)
    const synced = rb.whenSynced(undefined, 5000)
    connect()
    await synced
    expect(rb.status().map(status => status.state)).toEqual(["in-sync"])
  })

  it("asks again for a batch that got no answer, reports the stall, and is not in sync until it has it", async () => {
    let lost = 0
    const { a, b, rb, stalls, connect } = await pair(["task"], ["task"], {
      settings: { batchSize: 10, stallTimeoutMs: 600 },
      lose: (from, message) => from === "a" && message.t === "docs" && lost++ === 1,
    })
    const tasks = await Promise.all(Array.from({ length: 50 }, (_, i) => a.db.create(Task, { title: `t${i}` })))
    connect()
    await waitFor(() => b.db.catalog.size === 40)
    await expect(rb.whenSynced("a", 200)).rejects.toThrow(/timed out/)
    await rb.whenSynced("a", 5000)
    expect([...b.db.catalog.idsOfType("task")].sort()).toEqual(tasks.map(t => t.id).sort())
    expect(stalls).toEqual([{ at: "b", reason: expect.stringMatching(/no answer for 10 wanted documents in [\d.]+ s; asking again/) }])
    expect(rb.status()[0]!.stalled).toBeUndefined()
  })

  it("pulls again when the offer never comes", async () => {
    let lost = false
    const { a, b, rb, stalls, connect } = await pair(["task"], ["task"], {
      settings: { stallTimeoutMs: 300 },
      lose: (from, message) => from === "a" && message.t === "offer" && !lost && (lost = true),
    })
    const doc = await a.db.create(Task, { title: "offered twice" })
    connect()
    await rb.whenSynced("a", 5000)
    expect(b.db.catalog.has(doc.id)).toBe(true)
    expect(stalls.map(s => s.reason)).toEqual([expect.stringMatching(/no offer for a pull in [\d.]+ s; pulling again/)])
  })

  it("ends a pull whose batch cannot be stored without moving the checkpoint, says so, and pulls again", async () => {
    const { a, b, rb, stalls, connect } = await pair(["task"], ["task"])
    const tasks = await Promise.all(Array.from({ length: 5 }, (_, i) => a.db.create(Task, { title: `t${i}` })))
    const ingest = b.db.replica.ingest.bind(b.db.replica)
    let failures = 1
    b.db.replica.ingest = (...args) => (failures-- > 0 ? Promise.reject(new Error("disk full")) : ingest(...args))
    connect()
    await waitFor(() => stalls.length === 1)
    expect(stalls[0]!.reason).toMatch(/pulling from this peer failed \(disk full\); trying again in 1\.0 s/)
    expect(b.db.catalog.size).toBe(0)
    await rb.whenSynced("a", 5000)
    expect([...b.db.catalog.idsOfType("task")].sort()).toEqual(tasks.map(t => t.id).sort())
  })
  it("serves a peer while it is still storing that peer's batch", async () => {
    const { a, b, connect } = await pair(["task"], ["task"])
    const fromA = await Promise.all(Array.from({ length: 10 }, (_, i) => a.db.create(Task, { title: `a${i}` })))
    await Promise.all(Array.from({ length: 10 }, (_, i) => b.db.create(Task, { title: `b${i}` })))
    const ingest = a.db.replica.ingest.bind(a.db.replica)
    let storing = false
    a.db.replica.ingest = async (...args) => {
      storing = true
      await sleep(1500)
      storing = false
      return ingest(...args)
    }
    connect()
    await waitFor(() => fromA.every(doc => b.db.catalog.has(doc.id)), 1400)
    expect(storing).toBe(true)
  })
})
