import { describe, expect, it } from "vitest"
import { decodeDocument, defineType, f, NotFoundError, UnknownChangeError } from "../src/index.js"
import { openDb, sleep, unknownId } from "./helpers.js"

const Task = defineType("task", { fields: { title: f.string(), votes: f.counter(), body: f.text().default("") } })

describe("Database.history", () => {
  it("lists changes oldest first with machine, time and message", async () => {
    const { db, machine } = await openDb({ types: [Task] })
    const start = Date.now()
    const doc = await db.create(Task, { title: "v1" }, { message: "created" })
    await sleep(5)
    await db.change(Task, doc.id, d => (d.title = "v2"), { message: "renamed" })
    await sleep(5)
    await db.change(Task, doc.id, d => d.votes.increment())
    const history = await db.history(doc.id)
    expect(history.map(h => h.message)).toEqual(["created", "renamed", null])
    expect(history.map(h => h.machineId)).toEqual([machine.machineId, machine.machineId, machine.machineId])
    for (const entry of history) {
      expect(entry.hash).toMatch(/^[0-9a-f]{64}$/)
      expect(entry.time).toBeGreaterThanOrEqual(start)
      expect(entry.time).toBeLessThanOrEqual(Date.now())
    }
    expect(history[0]!.time).toBe(doc.createdAt)
    expect(history[1]!.time).toBeGreaterThan(history[0]!.time)
    expect(history[2]!.time).toBeGreaterThan(history[1]!.time)
    expect(history[2]!.time).toBe((await db.get(doc.id)).modifiedAt)
    expect(db.catalog.get(doc.id)!.heads).toEqual([history[2]!.hash])
  })

  it("records a transaction's message on every document it changed", async () => {
    const { db } = await openDb({ types: [Task] })
    const a = await db.create(Task, { title: "a" })
    const b = await db.create(Task, { title: "b" })
    await db.transaction(
      tx => {
        tx.change(Task, a.id, d => d.votes.increment())
        tx.change(Task, b.id, d => d.votes.increment())
      },
      { message: "vote for both" },
    )
    expect((await db.history(a.id)).at(-1)!.message).toBe("vote for both")
    expect((await db.history(b.id)).at(-1)!.message).toBe("vote for both")
  })

  it("writes no change for an edit that changes nothing", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "same" })
    const changed = await db.change(Task, doc.id, d => (d.title = "same"))
    expect(await db.history(doc.id)).toHaveLength(1)
    expect(changed.modifiedAt).toBe(doc.modifiedAt)
  })

  it("records the message of a restore and of the changes an import writes", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "a" })
    await db.delete(doc.id, { message: "gone" })
    await db.restore(doc.id, { message: "back" })
    const exported = await db.exportDocument(doc.id)
    await db.importDocument(decodeDocument({ ...exported, data: { ...exported.data, title: "edited" } }), { message: "from the backup" })
    const copy = await db.importDocument(decodeDocument({ ...exported, id: unknownId() }), { message: "a new copy" })
    expect((await db.history(doc.id)).map(h => h.message)).toEqual([null, "gone", "back", "from the backup"])
    expect((await db.history(copy.id)).map(h => h.message)).toEqual(["a new copy"])
  })

  it("throws NotFoundError for an unknown document", async () => {
    const { db } = await openDb()
    await expect(db.history(unknownId())).rejects.toThrow(NotFoundError)
  })
})

describe("Database.view", () => {
  it("shows the document as it was at an earlier change", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "v1", body: "hello" })
    await sleep(5)
    await db.change(Task, doc.id, d => {
      d.title = "v2"
      d.body.splice(5, 0, " world")
      d.votes.increment(3)
    })
    await db.delete(doc.id)
    const [first, second, third] = await db.history(doc.id)

    const atFirst = await db.view(doc.id, first!.hash)
    expect(atFirst).toMatchObject({ id: doc.id, type: "task", createdAt: doc.createdAt, modifiedAt: first!.time, deletedAt: null })
    expect(atFirst.data).toEqual({ title: "v1", votes: 0, body: "hello" })

    const atSecond = await db.view(doc.id, [second!.hash])
    expect(atSecond.data).toEqual({ title: "v2", votes: 3, body: "hello world" })
    expect(atSecond.modifiedAt).toBe(second!.time)
    expect(atSecond.deletedAt).toBeNull()

    expect((await db.view(doc.id, third!.hash)).deletedAt).toBeGreaterThan(0)
    // The current document is untouched by viewing.
    expect((await db.get(doc.id)).data.title).toBe("v2")
  })

  it("refuses a hash that is not one of the document's changes, naming it", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "v1" })
    const other = await db.create(Task, { title: "other" })
    const [elsewhere] = await db.history(other.id)
    for (const hash of [elsewhere!.hash, "0".repeat(64), "not-a-hash"]) {
      await expect(db.view(doc.id, hash)).rejects.toThrow(UnknownChangeError)
      await expect(db.view(doc.id, hash)).rejects.toThrow(`document ${doc.id} has no change ${hash}`)
      await expect(db.exportDocument(doc.id, [hash])).rejects.toThrow(UnknownChangeError)
    }
  })

  it("exports a document as it was at a change, kinds kept", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "v1", body: "hello" })
    await sleep(5)
    await db.change(Task, doc.id, d => {
      d.title = "v2"
      d.votes.increment(2)
    })
    const [first] = await db.history(doc.id)
    const exported = await db.exportDocument(doc.id, first!.hash)
    expect(exported).toMatchObject({
      id: doc.id,
      type: "task",
      modifiedAt: first!.time,
      data: { title: "v1", votes: { $counter: 0 }, body: { $text: "hello" } },
    })
    expect((await db.exportDocument(doc.id)).data).toMatchObject({ title: "v2", votes: { $counter: 2 } })
  })
})
