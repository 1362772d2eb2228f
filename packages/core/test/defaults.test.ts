/**
 * Documents made elsewhere without the fields a definition fills in (the
 * CLI, a relay, an app on an older definition): a field with a default, or
 * a kind that starts empty, reads as what create would have stored, can be
 * changed through the typed draft, and is no reason to quarantine. Reads
 * never write those values into the document.
 */
import { describe, expect, it } from "vitest"
import { defineType, f, QuarantinedError, type Database, type Doc, type TypeDefinition } from "../src/index.js"
import { MemoryStorage, openDb, sendDocs } from "./helpers.js"

/** The README tour's definition. */
const Task = defineType("task", {
  version: 1,
  fields: {
    title: f.string(),
    done: f.boolean().default(false),
    priority: f.string({ values: ["low", "high"] }).optional(),
    notes: f.text().default(""),
    votes: f.counter(),
    tags: f.list(f.string()),
    links: f.record(f.string()),
  },
})

const filled = { title: "Buy milk", done: false, notes: "", votes: 0, tags: [], links: {} }

/** A task made as the CLI makes it (by type name, tagged JSON, no definition), then the same storage opened with the definition. */
async function madeWithoutDefinition(data: Record<string, unknown> = { title: "Buy milk" }) {
  const storage = new MemoryStorage()
  const untyped = await openDb({ storage })
  const made = await untyped.db.create("task", data)
  await untyped.db.close()
  const { db } = await openDb({ storage, types: [Task] })
  return { db, id: made.id }
}

/** The stored data, as an export shows it: what is really in the document. */
const stored = async (db: Database, id: string) => (await db.exportDocument(id)).data

/** A database with the definition that received `id` from a peer without it; and the quarantines it reported. */
async function syncedToTypedPeer(data: Record<string, unknown>, types: TypeDefinition<any>[] = [Task], type = "task") {
  const { db: untyped } = await openDb()
  const made = await untyped.create(type, data)
  const { db } = await openDb({ types })
  const quarantines: string[] = []
  db.on("quarantine", event => quarantines.push(event.reason))
  await sendDocs(untyped, db, [made.id])
  return { untyped, db, id: made.id, quarantines }
}

describe("a document made without a definition's defaults", () => {
  it("reads as its defaults through get, list, query and subscribe, and the reads write nothing", async () => {
    const { db, id } = await madeWithoutDefinition()
    const heads = db.catalog.get(id)!.heads
    expect((await db.get(Task, id)).data).toEqual(filled)
    expect((await db.get(id)).data).toEqual(filled)
    expect("priority" in (await db.get(Task, id)).data).toBe(false)
    expect((await db.list(Task)).map(doc => doc.data)).toEqual([filled])
    const seen: (Doc | undefined)[] = []
    const stop = db.subscribe(id, doc => seen.push(doc))
    await expect.poll(() => seen[0]?.data).toEqual(filled)
    stop()
    expect(db.catalog.get(id)!.heads).toEqual(heads)
    expect(await stored(db, id)).toEqual({ title: "Buy milk" })
  })

  it("is found by a query on a defaulted field, and sorts by its default", async () => {
    const { db, id } = await madeWithoutDefinition()
    const done = await db.create(Task, { title: "Aardvark food", done: true })
    expect((await db.query(Task, { where: { done: false } })).map(doc => doc.id)).toEqual([id])
    expect((await db.query(Task, { where: { done: true } })).map(doc => doc.id)).toEqual([done.id])
    expect((await db.query(Task, { where: { votes: 0, notes: "" } })).map(doc => doc.id).sort()).toEqual([id, done.id].sort())
    expect((await db.query(Task, { orderBy: "done" })).map(doc => doc.id)).toEqual([id, done.id])
    expect((await db.query(Task, { orderBy: { by: "done", direction: "desc" } })).map(doc => doc.id)).toEqual([done.id, id])
  })

  it("reads the defaults inside a typed draft, without writing them", async () => {
    const { db, id } = await madeWithoutDefinition()
    const heads = db.catalog.get(id)!.heads
    const seen: unknown[] = []
    await db.change(Task, id, draft => {
      seen.push(
        draft.done,
        draft.votes.value,
        draft.notes.value,
        draft.notes.length,
        draft.tags.length,
        draft.tags.toArray(),
        draft.links.shop,
        draft.priority,
      )
    })
    expect(seen).toEqual([false, 0, "", 0, 0, [], undefined, undefined])
    expect(db.catalog.get(id)!.heads).toEqual(heads)
  })

  it("changes every defaulted field through the typed draft: the change creates it", async () => {
    const { db, id } = await madeWithoutDefinition()
    const changed = await db.change(Task, id, draft => {
      draft.done = true
      draft.votes.increment()
      draft.votes.increment(2)
      draft.tags.push("shopping")
      draft.tags.push("today")
      draft.notes.splice(0, 0, "Oat, ")
      draft.notes.splice(5, 0, "two litres")
      draft.links.shop = "https://example.org"
    })
    expect(changed.data).toEqual({
      title: "Buy milk",
      done: true,
      notes: "Oat, two litres",
      votes: 3,
      tags: ["shopping", "today"],
      links: { shop: "https://example.org" },
    })
    // The new values are of their declared kinds: a counter merges, text takes splices.
    expect(await stored(db, id)).toEqual({
      title: "Buy milk",
      done: true,
      notes: { $text: "Oat, two litres" },
      votes: { $counter: 3 },
      tags: ["shopping", "today"],
      links: { shop: "https://example.org" },
    })
    const again = await db.change(Task, id, draft => {
      draft.votes.decrement()
      draft.notes.set("Oat milk")
    })
    expect(again.data).toMatchObject({ votes: 2, notes: "Oat milk" })
  })

  it("still refuses, whole, a change that breaks the definition", async () => {
    const { db, id } = await madeWithoutDefinition()
    await expect(
      db.change(Task, id, draft => {
        draft.tags.push(42 as never)
        draft.votes.increment()
      }),
    ).rejects.toThrow("expected a string, got number 42 (at tags.0)")
    await expect(db.change(Task, id, draft => draft.notes.splice(1, 0, "x"))).rejects.toThrow(RangeError)
    expect(await stored(db, id)).toEqual({ title: "Buy milk" })
  })
})

describe("a typed peer receiving a document made without the definition", () => {
  it("accepts it, reads the defaults, changes it, and the peer without the definition takes the change", async () => {
    const { untyped, db, id, quarantines } = await syncedToTypedPeer({ title: "Buy milk" })
    expect(quarantines).toEqual([])
    expect(db.catalog.get(id)!.quarantined).toBeUndefined()
    expect((await db.get(Task, id)).data).toEqual(filled)
    await db.change(Task, id, draft => {
      draft.done = true
      draft.votes.increment()
    })
    await sendDocs(db, untyped, [id])
    expect((await untyped.get(id)).data).toEqual({ title: "Buy milk", done: true, votes: 1 })
  })

  it("quarantines it for a required field with no default, naming the field and the reason", async () => {
    const { db, id, quarantines } = await syncedToTypedPeer({ done: true })
    expect(quarantines).toEqual(["its data does not match type task: missing required field (at title)"])
    await expect(db.get(id)).rejects.toThrow(QuarantinedError)
  })

  it("quarantines it for text with no default, and for a value of the wrong kind", async () => {
    const Note = defineType("note", { fields: { body: f.text(), pinned: f.boolean().default(false) } })
    expect((await syncedToTypedPeer({}, [Note], "note")).quarantines).toEqual([
      "its data does not match type note: missing required field (at body)",
    ])
    expect((await syncedToTypedPeer({ body: { $text: "b" }, pinned: "yes" }, [Note], "note")).quarantines).toEqual([
      "its data does not match type note: expected a boolean, got a string register (at pinned)",
    ])
    expect((await syncedToTypedPeer({ title: "t", votes: "many" })).quarantines).toEqual([
      "its data does not match type task: expected a counter, got a string register (at votes)",
    ])
  })
})

describe("nested maps", () => {
  const Profile = defineType("profile", {
    fields: {
      name: f.string(),
      settings: f.map({
        theme: f.string().default("light"),
        visits: f.counter(),
        alerts: f.map({ email: f.boolean().default(true), muted: f.list(f.string()) }),
        nickname: f.string().optional(),
      }),
      owner: f.map({ id: f.string(), since: f.number().default(0) }).optional(),
      rows: f.list(f.map({ label: f.string(), count: f.counter(), note: f.text().default("") })),
    },
  })
  const settings = { theme: "light", visits: 0, alerts: { email: true, muted: [] } }

  it("fill in at every level, whether the map is missing or only some of its fields", async () => {
    for (const data of [{ name: "ann" }, { name: "ann", settings: {} }, { name: "ann", settings: { alerts: {} } }]) {
      const { db, id, quarantines } = await syncedToTypedPeer(data, [Profile], "profile")
      expect(quarantines).toEqual([])
      expect((await db.get(Profile, id)).data).toEqual({ name: "ann", settings, rows: [] })
    }
    const { db, id } = await syncedToTypedPeer({ name: "ann", rows: [{ label: "a" }], settings: { theme: "dark" } }, [Profile], "profile")
    expect((await db.get(Profile, id)).data).toEqual({
      name: "ann",
      settings: { ...settings, theme: "dark" },
      rows: [{ label: "a", count: 0, note: "" }],
    })
  })

  it("quarantine for a required field missing inside a map, naming its path", async () => {
    const { quarantines } = await syncedToTypedPeer({ name: "ann", owner: {} }, [Profile], "profile")
    expect(quarantines).toEqual(["its data does not match type profile: missing required field (at owner.id)"])
    const inList = await syncedToTypedPeer({ name: "ann", rows: [{ count: { $counter: 1 } }] }, [Profile], "profile")
    expect(inList.quarantines).toEqual(["its data does not match type profile: missing required field (at rows.0.label)"])
  })

  it("are created by a change to a field inside them, and the reads inside the draft see the defaults", async () => {
    const { db, id } = await syncedToTypedPeer({ name: "ann", rows: [{ label: "a" }] }, [Profile], "profile")
    const heads = db.catalog.get(id)!.heads
    const seen: unknown[] = []
    await db.change(Profile, id, draft => {
      seen.push(
        draft.settings.theme,
        draft.settings.visits.value,
        draft.settings.alerts.email,
        draft.settings.alerts.muted.length,
        draft.rows.get(0)!.count.value,
        draft.owner,
      )
    })
    expect(seen).toEqual(["light", 0, true, 0, 0, undefined])
    expect(db.catalog.get(id)!.heads).toEqual(heads)
    const changed = await db.change(Profile, id, draft => {
      draft.settings.alerts.muted.push("weekly")
      draft.settings.visits.increment()
      draft.rows.get(0)!.count.increment(4)
      draft.rows.get(0)!.note.splice(0, 0, "first")
    })
    expect(changed.data).toEqual({
      name: "ann",
      settings: { theme: "light", visits: 1, alerts: { email: true, muted: ["weekly"] } },
      rows: [{ label: "a", count: 4, note: "first" }],
    })
    // Only what the change touched was written; the other defaults still come from the definition.
    expect(await stored(db, id)).toEqual({
      name: "ann",
      settings: { alerts: { muted: ["weekly"] }, visits: { $counter: 1 } },
      rows: [{ label: "a", count: { $counter: 4 }, note: { $text: "first" } }],
    })
  })
})

describe("a document read at an older version", () => {
  it("fills in the defaults of a view too", async () => {
    const { db, id } = await madeWithoutDefinition()
    const [first] = await db.history(id)
    await db.change(Task, id, draft => (draft.done = true))
    expect((await db.view(id, first!.hash)).data).toEqual(filled)
  })
})
