/**
 * Definitions as documents: a peer publishes its definitions, a relay with
 * no app code keeps them and knows the type's fields and versions, and an
 * older app that gets them through the relay applies the newer version's
 * lens. Identical definitions published at once read as one; different
 * ones under one version are a conflict, reported. They go only where the
 * type they describe may go.
 */
import { describe, expect, it } from "vitest"
import { defineType, f, TypeDefinitionError } from "../src/index.js"
import { selects } from "../src/replication/protocol.js"
import { schemaDocumentData, schemaDocumentType } from "../src/schema/schemaDocuments.js"
import { openDb, sendDocs } from "./helpers.js"

const V1 = defineType("task", { version: 1, fields: { title: f.string() } })
const V2 = defineType("task", {
  version: 2,
  fields: { name: f.string(), priority: f.number().default(0) },
  lenses: [{ from: 1, to: 2, ops: [{ op: "rename", from: ["title"], to: ["name"] }] }],
})

const allIds = (db: Awaited<ReturnType<typeof openDb>>["db"]) => [...db.catalog.entries()].map(entry => entry.id)

describe("definitions stored and synced as documents", () => {
  it("reach a relay with no app code, and an older app through it, which then reads the newer documents", async () => {
    const [next, relay, old] = [await openDb({ types: [V2] }), await openDb(), await openDb({ types: [V1] })]
    expect(await next.db.publishDefinitions()).toHaveLength(1)
    expect(await next.db.publishDefinitions()).toEqual([])
    const made = await next.db.create(V2, { name: "from version 2" })
    await sendDocs(next.db, relay.db, allIds(next.db))

    const [atRelay] = await relay.db.publishedDefinitions("task")
    expect(atRelay!.version).toBe(2)
    expect(atRelay!.definition!.toJSON()).toEqual(V2.toJSON())

    await sendDocs(relay.db, old.db, allIds(relay.db))
    await expect.poll(() => old.db.catalog.get(made.id)?.quarantined).toBeUndefined()
    expect((await old.db.get(V1, made.id)).data).toEqual({ title: "from version 2", priority: 0 })
  })

  it("reads identical definitions published by two peers at once as one, and names a conflict", async () => {
    const [a, b, c] = [await openDb({ types: [V2] }), await openDb({ types: [V2] }), await openDb()]
    await Promise.all([a.db.publishDefinitions(), b.db.publishDefinitions()])
    await sendDocs(a.db, c.db, allIds(a.db))
    await sendDocs(b.db, c.db, allIds(b.db))
    const [one] = await c.db.publishedDefinitions("task")
    expect(one!.definition!.toJSON()).toEqual(V2.toJSON())
    expect(one!.conflict).toBeUndefined()

    const other = await openDb({ types: [defineType("task", { version: 2, fields: { name: f.text() } })] })
    await other.db.publishDefinitions()
    await sendDocs(other.db, c.db, allIds(other.db))
    const [clash] = await c.db.publishedDefinitions("task")
    expect(clash!.definition).toBeUndefined()
    expect(clash!.conflict).toHaveLength(2)
    // The peer with the other definition, now holding both, refuses to publish over it.
    await sendDocs(a.db, other.db, allIds(a.db))
    await expect(other.db.publishDefinitions()).rejects.toThrow(/another definition of task version 2 is published/)
  })

  it("name a document that holds no definition, or another type's, and learn nothing from it", async () => {
    const [hostile, old] = [await openDb(), await openDb({ types: [V1] })]
    const schema = schemaDocumentType("task")
    await hostile.db.create(schema, { name: "task", version: 2, definition: "not a definition" })
    const note = defineType("note", { version: 2, fields: { body: f.string() } })
    await hostile.db.create(schema, { ...schemaDocumentData(note), name: "task" })
    await sendDocs(hostile.db, old.db, allIds(hostile.db))
    await expect.poll(async () => (await old.db.publishedDefinitions("task")).flatMap(entry => entry.invalid).length).toBe(2)
    const [invalid] = await old.db.publishedDefinitions("task")
    expect(invalid!.definition).toBeUndefined()
    expect(invalid!.invalid.map(entry => entry.reason).join("\n")).toMatch(/it defines note, not task/)
    // The older app still reads and writes with its own version, nothing learnt.
    expect(old.db.definition("task")?.version).toBe(1)
    const made = await old.db.create(V1, { title: "still version 1" })
    expect((await old.db.get(V1, made.id)).data).toEqual({ title: "still version 1" })
  })

  it("go only where the type they describe goes, and apps cannot define the reserved names", () => {
    expect(selects(["task"], "cairn.schema.task")).toBe(true)
    expect(selects(["note"], "cairn.schema.task")).toBe(false)
    expect(selects(["cairn.schema.task"], "cairn.schema.task")).toBe(false)
    expect(() => defineType("cairn.schema.task", { fields: {} })).toThrow(TypeDefinitionError)
  })
})
