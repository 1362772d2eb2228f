import { describe, expect, it } from "vitest"
import { defineType, f, type Doc } from "../src/index.js"
import { openDb, sendDocs, sleep } from "./helpers.js"

const Task = defineType("task", {
  fields: { title: f.string(), rank: f.number().optional(), done: f.boolean().default(false), owner: f.string().default("ann") },
})
const Note = defineType("note", { fields: { body: f.text() } })

/** Four tasks created a few milliseconds apart (so times order them), and a note. */
async function fixture() {
  const { db } = await openDb({ types: [Task, Note] })
  const ids: Record<string, string> = {}
  for (const [title, rank, done, owner] of [
    ["c", 2, false, "ann"],
    ["a", 3, true, "bob"],
    ["d", undefined, false, "bob"],
    ["b", 1, false, "ann"],
  ] as const) {
    ids[title] = (await db.create(Task, { title, ...(rank === undefined ? {} : { rank }), done, owner })).id
    await sleep(3)
  }
  await db.create(Note, { body: "not a task" })
  const titles = (docs: Doc<{ title: string }>[]) => docs.map(d => d.data.title)
  return { db, ids, titles }
}

describe("Database.list", () => {
  it("lists live documents of one type, most recently modified first", async () => {
    const { db, ids, titles } = await fixture()
    expect(titles(await db.list(Task))).toEqual(["b", "d", "a", "c"])
    await db.change(Task, ids.a!, d => (d.rank = 4))
    expect(titles(await db.list(Task))).toEqual(["a", "b", "d", "c"])
    expect((await db.list(Note)).map(d => d.type)).toEqual(["note"])
    expect(await db.list("nothing.here")).toEqual([])
  })
})

describe("Database.query", () => {
  it("filters by equality on data fields", async () => {
    const { db, titles } = await fixture()
    expect(titles(await db.query(Task, { where: { owner: "bob" }, orderBy: "title" }))).toEqual(["a", "d"])
    expect(titles(await db.query(Task, { where: { owner: "ann", done: false }, orderBy: "title" }))).toEqual(["b", "c"])
    expect(await db.query(Task, { where: { owner: "nobody" } })).toEqual([])
  })

  it("filters with comparisons, and refuses an unknown operator naming it", async () => {
    const { db, titles } = await fixture()
    expect(titles(await db.query(Task, { where: { rank: { $gte: 2 } }, orderBy: "title" }))).toEqual(["a", "c"])
    expect(titles(await db.query(Task, { where: { rank: { $gt: 1, $lt: 3 } } }))).toEqual(["c"])
    // A missing rank fails a comparison, but is "not 1".
    expect(titles(await db.query(Task, { where: { rank: { $ne: 1 } }, orderBy: "title" }))).toEqual(["a", "c", "d"])
    expect(titles(await db.query(Task, { where: { owner: { $contains: "BO" } }, orderBy: "title" }))).toEqual(["a", "d"])
    expect(titles(await db.query(Task, { where: { title: { $lte: "b" }, done: false } }))).toEqual(["b"])
    await expect(db.query(Task, { where: { rank: { $between: [1, 2] } } as never })).rejects.toThrow(/unknown operator "\$between"/)
    await expect(db.query(Task, { where: [1] as never })).rejects.toThrow(/"where" must be an object.*a list/)
  })

  it("filters with a predicate over the whole document", async () => {
    const { db, titles, ids } = await fixture()
    expect(titles(await db.query(Task, { where: d => (d.data.rank ?? 0) >= 2, orderBy: "title" }))).toEqual(["a", "c"])
    expect((await db.query(Task, { where: d => d.id === ids.d })).map(d => d.id)).toEqual([ids.d])
  })

  it("orders by a data field, ascending or descending; a missing value sorts as the largest", async () => {
    const { db, titles } = await fixture()
    expect(titles(await db.query(Task, { orderBy: "title" }))).toEqual(["a", "b", "c", "d"])
    expect(titles(await db.query(Task, { orderBy: { by: "title", direction: "desc" } }))).toEqual(["d", "c", "b", "a"])
    expect(titles(await db.query(Task, { orderBy: "rank" }))).toEqual(["b", "c", "a", "d"])
    expect(titles(await db.query(Task, { orderBy: { by: "rank", direction: "desc" } }))).toEqual(["d", "a", "c", "b"])
  })

  it("orders by metadata and by a comparator", async () => {
    const { db, titles } = await fixture()
    expect(titles(await db.query(Task, { orderBy: "createdAt" }))).toEqual(["c", "a", "d", "b"])
    expect(titles(await db.query(Task, { orderBy: { by: "createdAt", direction: "desc" } }))).toEqual(["b", "d", "a", "c"])
    expect(titles(await db.query(Task, { orderBy: (x, y) => (x.data.title < y.data.title ? 1 : -1) }))).toEqual(["d", "c", "b", "a"])
    const byId = await db.query(Task, { orderBy: "id" })
    expect(byId.map(d => d.id)).toEqual(byId.map(d => d.id).sort())
  })

  it("limits after filtering and sorting", async () => {
    const { db, titles } = await fixture()
    expect(titles(await db.query(Task, { orderBy: "title", limit: 2 }))).toEqual(["a", "b"])
    expect(titles(await db.query(Task, { where: { owner: "bob" }, orderBy: "title", limit: 1 }))).toEqual(["a"])
    expect(await db.query(Task, { limit: 0 })).toEqual([])
  })

  it("leaves deleted documents out unless asked", async () => {
    const { db, ids, titles } = await fixture()
    await db.delete(ids.c!)
    expect(titles(await db.query(Task, { orderBy: "title" }))).toEqual(["a", "b", "d"])
    expect(titles(await db.query(Task, { orderBy: "title", includeDeleted: true }))).toEqual(["a", "b", "c", "d"])
  })
})

describe("Database.liveQuery", () => {
  it("gives results now and again after every change to the type, and stops when asked", async () => {
    const { db, ids, titles } = await fixture()
    const results: string[][] = []
    const stop = db.liveQuery(Task, { where: { owner: "ann" }, orderBy: "title" }, docs => results.push(titles(docs)))
    await expect.poll(() => results.at(-1)).toEqual(["b", "c"])
    const created = await db.create(Task, { title: "e" })
    await expect.poll(() => results.at(-1)).toEqual(["b", "c", "e"])
    await db.change(Task, ids.b!, d => (d.owner = "bob"))
    await expect.poll(() => results.at(-1)).toEqual(["c", "e"])
    await db.delete(created.id)
    await expect.poll(() => results.at(-1)).toEqual(["c"])
    const count = results.length
    await db.create(Note, { body: "other types do not rerun it" })
    await sleep(20)
    expect(results.length).toBe(count)
    stop()
    await db.create(Task, { title: "f" })
    await sleep(20)
    expect(results.length).toBe(count)
  })
  it("gives one result for a batch from a peer, and reads only the documents that changed", async () => {
    const { db } = await fixture()
    const peer = await openDb({ types: [Task] })
    const sent = await Promise.all(Array.from({ length: 100 }, (_, i) => peer.db.create(Task, { title: `p${i}` })))
    const results: number[] = []
    const stop = db.liveQuery(Task, { orderBy: "title" }, docs => results.push(docs.length))
    await expect.poll(() => results.at(-1)).toBe(4)
    const view = db.replica.store.view.bind(db.replica.store)
    const reads: string[] = []
    db.replica.store.view = id => {
      reads.push(id)
      return view(id)
    }
    // The batch arrives one document after another (as replication ingests it): a query run per document read
    // every task for each, 100 × 100 reads and 100 results.
    await sendDocs(
      peer.db,
      db,
      sent.map(d => d.id),
    )
    await expect.poll(() => results.at(-1)).toBe(104)
    expect(results.length).toBeLessThanOrEqual(4)
    expect(reads.length).toBe(100)
    stop()
  })
})
