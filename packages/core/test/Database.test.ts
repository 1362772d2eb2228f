import { describe, expect, expectTypeOf, it } from "vitest"
import {
  ClosedError,
  DeletedDocumentError,
  defineType,
  f,
  NotFoundError,
  PurgedError,
  TypeDefinitionError,
  ValidationError,
  WrongTypeError,
  type Doc,
} from "../src/index.js"
import { MemoryStorage, openDb, sleep, storageKeys, unknownId } from "./helpers.js"

const Task = defineType("task", {
  fields: {
    title: f.string(),
    done: f.boolean().default(false),
    votes: f.counter(),
    notes: f.text().default(""),
    tags: f.list(f.string()),
  },
})
const Note = defineType("note", { fields: { body: f.text() } })

const snapshot = (storage: MemoryStorage) => new Map([...storage.data].map(([key, bytes]) => [key, Buffer.from(bytes).toString("hex")]))

describe("Database.create and get", () => {
  it("creates a typed document with its metadata and defaults", async () => {
    const { db, machine } = await openDb({ types: [Task] })
    const before = Date.now()
    const doc = await db.create(Task, { title: "Buy milk" })
    expectTypeOf(doc.data.title).toEqualTypeOf<string>()
    expectTypeOf(doc.data.votes).toEqualTypeOf<number>()
    expect(doc.id).toMatch(/^[1-9A-HJ-NP-Za-km-z]+$/)
    expect(doc.type).toBe("task")
    expect(doc.createdBy).toBe(machine.machineId)
    expect(doc.createdAt).toBeGreaterThanOrEqual(before)
    expect(doc.createdAt).toBeLessThanOrEqual(Date.now())
    expect(doc.modifiedAt).toBe(doc.createdAt)
    expect(doc.deletedAt).toBeNull()
    expect(doc.data).toEqual({ title: "Buy milk", done: false, votes: 0, notes: "", tags: [] })
    expect(await db.get(doc.id)).toEqual(doc)
    expect(await db.get(Task, doc.id)).toEqual(doc)
    expect(Object.isFrozen(doc)).toBe(true)
  })

  it("moves modifiedAt on a change and keeps createdAt", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "a" })
    await sleep(5)
    const changed = await db.change(Task, doc.id, d => (d.done = true))
    expect(changed.createdAt).toBe(doc.createdAt)
    expect(changed.modifiedAt).toBeGreaterThan(doc.modifiedAt)
  })

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ["an unknown field", { title: "t", colour: "red" }, /unknown field "colour" \(at colour\)/],
    ["a field of the wrong kind", { title: 3 }, /expected a string, got number 3 \(at title\)/],
    ["a missing required field", { done: true }, /missing required field \(at title\)/],
    ["a wrong list item", { title: "t", tags: ["a", 2] }, /at tags\.1/],
    ["a counter that is not a number", { title: "t", votes: "1" }, /expected a counter/],
  ]
  for (const [what, data, message] of invalid) {
    it(`refuses ${what} with a ValidationError and writes nothing`, async () => {
      const { db, storage } = await openDb({ types: [Task] })
      await db.create(Task, { title: "existing" })
      await db.replica.flush()
      const before = snapshot(storage)
      const creating = db.create(Task, data as never)
      await expect(creating).rejects.toThrow(ValidationError)
      await expect(creating).rejects.toThrow(message)
      await db.replica.flush()
      expect(snapshot(storage)).toEqual(before)
      expect(db.catalog.size).toBe(1)
    })
  }

  it("creates untyped documents by type name from tagged JSON", async () => {
    const { db } = await openDb()
    const doc = await db.create("budget.transfer", { amount: 5, memo: "rent", body: { $text: "long" }, n: { $counter: 2 } })
    expect(doc.type).toBe("budget.transfer")
    expect(doc.data).toEqual({ amount: 5, memo: "rent", body: "long", n: 2 })
    expect((await db.exportDocument(doc.id)).data).toEqual({ amount: 5, memo: "rent", body: { $text: "long" }, n: { $counter: 2 } })
    await expect(db.create("Not A Type", {})).rejects.toThrow(TypeDefinitionError)
    // The data is a map: a tag at the top would store text or a counter where the document's map belongs.
    await expect(db.create("memo", { $text: "x" })).rejects.toThrow(/document data must be a map \(an object\), got text "x"/)
    expect(db.catalog.size).toBe(1)
  })

  it("validates a type name against its registered definition", async () => {
    const { db } = await openDb({ types: [Task] })
    await expect(db.create("task", { title: 1 })).rejects.toThrow(ValidationError)
  })

  it("throws NotFoundError for an unknown id, and WrongTypeError through another type", async () => {
    const { db } = await openDb({ types: [Task, Note] })
    await expect(db.get(unknownId())).rejects.toThrow(NotFoundError)
    const doc = await db.create(Task, { title: "a" })
    await expect(db.get(Note, doc.id)).rejects.toThrow(WrongTypeError)
    await expect(db.get(Note, doc.id)).rejects.toThrow(`document ${doc.id} is a task, not a note`)
  })
})

describe("Database.change", () => {
  it("refuses a change through another type, leaving the document unchanged", async () => {
    const { db } = await openDb({ types: [Task, Note] })
    const doc = await db.create(Task, { title: "a" })
    const heads = db.catalog.get(doc.id)!.heads
    await expect(db.change(Note, doc.id, d => d.body.set("x"))).rejects.toThrow(WrongTypeError)
    await expect(db.change("note", doc.id, d => (d.body = "x"))).rejects.toThrow(WrongTypeError)
    expect(db.catalog.get(doc.id)!.heads).toEqual(heads)
    expect((await db.get(doc.id)).data).toEqual(doc.data)
  })

  it("validates with the definition it is given, even one not registered with the database", async () => {
    const { db } = await openDb()
    const doc = await db.create(Task, { title: "a" })
    await expect(db.change(Task, doc.id, d => ((d as { title: unknown }).title = 5))).rejects.toThrow(ValidationError)
    await expect(db.change(Task, doc.id, d => ((d as Record<string, unknown>).colour = "red"))).rejects.toThrow(/unknown field "colour"/)
    expect((await db.get(Task, doc.id)).data.title).toBe("a")
  })

  it("throws NotFoundError for a document that is not here", async () => {
    const { db } = await openDb({ types: [Task] })
    await expect(db.change(Task, unknownId(), d => (d.done = true))).rejects.toThrow(NotFoundError)
  })
})

describe("Database.delete, restore and purge", () => {
  it("soft-deletes: deletedAt is set, the document leaves lists, changes are refused until restored", async () => {
    const { db } = await openDb({ types: [Task] })
    const keep = await db.create(Task, { title: "keep" })
    const doc = await db.create(Task, { title: "go" })
    await db.delete(doc.id)
    const deleted = await db.get(Task, doc.id)
    expect(deleted.deletedAt).toBeGreaterThan(0)
    expect(deleted.data.title).toBe("go")
    expect((await db.list(Task)).map(d => d.id)).toEqual([keep.id])
    expect((await db.list(Task, { includeDeleted: true })).map(d => d.id).sort()).toEqual([keep.id, doc.id].sort())
    expect(db.types()).toEqual([{ type: "task", count: 1 }])
    const heads = db.catalog.get(doc.id)!.heads
    await expect(db.change(Task, doc.id, d => (d.done = true))).rejects.toThrow(DeletedDocumentError)
    expect(db.catalog.get(doc.id)!.heads).toEqual(heads)

    await db.restore(doc.id)
    expect((await db.get(doc.id)).deletedAt).toBeNull()
    expect((await db.change(Task, doc.id, d => (d.done = true))).data.done).toBe(true)
    expect(await db.list(Task)).toHaveLength(2)
  })

  it("purges: the body is dropped from storage and reads throw PurgedError", async () => {
    const { db, storage } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "secret" })
    await db.delete(doc.id)
    await db.purge(doc.id)
    await expect(db.get(doc.id)).rejects.toThrow(PurgedError)
    await expect(db.change(Task, doc.id, d => (d.done = true))).rejects.toThrow(PurgedError)
    await expect(db.restore(doc.id)).rejects.toThrow(PurgedError)
    expect(await db.list(Task, { includeDeleted: true })).toEqual([])
    expect(db.catalog.get(doc.id)).toMatchObject({ purged: true, heads: [] })
    expect(storageKeys(storage).filter(key => key[0] === doc.id)).toEqual([])
  })

  it("purges a document that was never loaded since the database opened", async () => {
    const storage = new MemoryStorage()
    const first = await openDb({ storage, types: [Task] })
    const doc = await first.db.create(Task, { title: "old" })
    await first.db.close()
    const { db } = await openDb({ storage, types: [Task] })
    await db.purge(doc.id)
    await expect(db.get(doc.id)).rejects.toThrow(PurgedError)
    expect(storageKeys(storage).filter(key => key[0] === doc.id)).toEqual([])
    await db.close()
    const reopened = await openDb({ storage, types: [Task] })
    await expect(reopened.db.get(doc.id)).rejects.toThrow(PurgedError)
  })
})

describe("Database.subscribe", () => {
  it("gives the document now, after each change, and undefined once deleted", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "a" })
    const seen: (Doc | undefined)[] = []
    const stop = db.subscribe(doc.id, d => seen.push(d))
    await expect.poll(() => seen.length).toBe(1)
    expect(seen[0]!.data.title).toBe("a")
    expect(db.replica.isWatched(doc.id)).toBe(true)
    await db.change(Task, doc.id, d => (d.title = "b"))
    await expect.poll(() => seen.at(-1)?.data.title).toBe("b")
    await db.delete(doc.id)
    await expect.poll(() => seen.at(-1)).toBeUndefined()
    stop()
    expect(db.replica.isWatched(doc.id)).toBe(false)
    const count = seen.length
    await db.restore(doc.id)
    await sleep(20)
    expect(seen.length).toBe(count)
  })

  it("never delivers an older state after a newer one, nor anything after stopping", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "0" })
    const seen: (string | undefined)[] = []
    const stop = db.subscribe(doc.id, d => seen.push(d?.data.title as string | undefined))
    for (let i = 1; i <= 5; i++) void db.change(Task, doc.id, d => (d.title = String(i)))
    await db.delete(doc.id)
    await sleep(30)
    expect(seen.at(-1)).toBeUndefined()
    stop()
    await db.restore(doc.id)
    const count = seen.length
    await sleep(30)
    expect(seen.length).toBe(count)
  })
})

describe("Database.close", () => {
  it("refuses every operation afterwards with ClosedError", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "a" })
    await db.close()
    await expect(db.get(doc.id)).rejects.toThrow(ClosedError)
    await expect(db.create(Task, { title: "b" })).rejects.toThrow(ClosedError)
    await expect(db.change(Task, doc.id, d => (d.done = true))).rejects.toThrow(ClosedError)
    await expect(db.list(Task)).rejects.toThrow(ClosedError)
  })
})
