import { Repo } from "@automerge/automerge-repo"
import { Database, Machine, defineType, f, packVouches } from "@cairn/core"
import { afterEach, describe, expect, it } from "vitest"
import { liveDocument, liveQuery, LiveValue } from "./live.js"

const Task = defineType("task", { fields: { title: f.string() } })
const Note = defineType("note", { fields: { body: f.text() } })

const open: Database[] = []
async function database(): Promise<Database> {
  const db = await Database.open({ repo: new Repo({ network: [] }), machine: await Machine.generate(), types: [Task, Note] })
  open.push(db)
  return db
}

afterEach(async () => {
  for (const db of open.splice(0)) await db.close()
})

/** Resolves with the first value after the current one that satisfies `check`. */
function next<T>(live: { subscribe(listener: (value: T) => void): () => void }, check: (value: T) => boolean): Promise<T> {
  return new Promise(resolve => {
    let stop: (() => void) | undefined
    stop = live.subscribe(value => {
      if (!check(value)) return
      resolve(value)
      if (stop) stop()
      else queueMicrotask(() => stop!())
    })
  })
}

describe("LiveValue", () => {
  it("starts its source with the first subscriber, stops it with the last, and gives the value at once", () => {
    const log: string[] = []
    let set!: (value: number) => void
    const live = new LiveValue(0, push => {
      log.push("start")
      set = push
      return () => log.push("stop")
    })
    const seen: number[] = []
    const stopA = live.subscribe(value => seen.push(value))
    const stopB = live.subscribe(() => {})
    set(1)
    set(1)
    set(2)
    stopA()
    expect(log).toEqual(["start"])
    stopB()
    stopB()
    expect(log).toEqual(["start", "stop"])
    expect(seen).toEqual([0, 1, 2])
    expect(live.value).toBe(2)
  })
})

describe("liveDocument", () => {
  it("is undefined while loading, then the document after every change, then null once deleted", async () => {
    const db = await database()
    const task = await db.create(Task, { title: "first" })
    const live = liveDocument(db, Task, task.id)
    expect(live.value).toBeUndefined()
    expect((await next(live, doc => !!doc))?.data.title).toBe("first")
    const changed = next(live, doc => doc?.data.title === "second")
    await db.change(Task, task.id, draft => void (draft.title = "second"))
    await changed
    const deleted = next(live, doc => doc === null)
    await db.delete(task.id)
    expect(await deleted).toBeNull()
  })

  it("is null for an unknown id until the document arrives, and for a document of another type", async () => {
    const [db, elsewhere] = [await database(), await database()]
    const note = await db.create(Note, { body: "a note" })
    expect(await next(liveDocument(db, Task, note.id), doc => doc !== undefined)).toBeNull()

    const task = await elsewhere.create(Task, { title: "from another peer" })
    const live = liveDocument(db, Task, task.id)
    expect(await next(live, doc => doc !== undefined)).toBeNull()
    const arrived = next(live, doc => !!doc)
    // With the other machine's vouch for its change, as a peer sends it.
    const vouches = packVouches(await elsewhere.replica.vouchesFor(task.id))
    await db.replica.ingest([{ id: task.id, bytes: (await elsewhere.replica.store.readStored(task.id))!, vouches }])
    expect((await arrived)!.data.title).toBe("from another peer")
  })
})

describe("liveQuery", () => {
  it("gives the query's results and runs again when a document of the type changes", async () => {
    const db = await database()
    await db.create(Task, { title: "b" })
    const live = liveQuery(db, Task, { orderBy: "title" })
    expect((await next(live, docs => docs !== undefined))!.map(doc => doc.data.title)).toEqual(["b"])
    const grown = next(live, docs => docs?.length === 2)
    await db.create(Task, { title: "a" })
    expect((await grown)!.map(doc => doc.data.title)).toEqual(["a", "b"])
  })
})
