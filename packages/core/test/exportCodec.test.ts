import { Counter, ImmutableString } from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { CodecError, decodeDocument, defineType, EXPORT_FORMAT, f, ImmutableTypeError, ValidationError, type ExportedDocument } from "../src/index.js"
import { openDb, unknownId } from "./helpers.js"

const Task = defineType("task", {
  version: 2,
  fields: { title: f.string(), votes: f.counter(), body: f.text(), meta: f.map({ owner: f.string() }), tags: f.list(f.string()), flags: f.record(f.boolean()) },
})

async function exported() {
  const { db, machine } = await openDb({ types: [Task] })
  const doc = await db.create(Task, { title: "t", votes: 3, body: "text", meta: { owner: "ann" }, tags: ["x"], flags: { a: true } })
  return { db, machine, doc, json: await db.exportDocument(doc.id) }
}

describe("export", () => {
  it("encodes metadata and tagged data", async () => {
    const { doc, json, machine } = await exported()
    expect(json).toEqual({
      format: EXPORT_FORMAT,
      id: doc.id,
      type: "task",
      typeVersion: 2,
      createdAt: doc.createdAt,
      createdBy: machine.machineId,
      modifiedAt: doc.modifiedAt,
      deletedAt: null,
      data: { title: "t", votes: { $counter: 3 }, body: { $text: "text" }, meta: { owner: "ann" }, tags: ["x"], flags: { a: true } },
    })
  })

  it("decodes to stored form with the same kinds and metadata", async () => {
    const { json } = await exported()
    const decoded = decodeDocument(JSON.stringify(json))
    const { format, data, ...meta } = json
    expect(decoded).toMatchObject(meta)
    expect(decoded.data.title).toBeInstanceOf(ImmutableString)
    expect(decoded.data.votes).toBeInstanceOf(Counter)
    expect(decoded.data.body).toBe("text")
    expect((decoded.data.meta as Record<string, unknown>).owner).toBeInstanceOf(ImmutableString)
  })
})

describe("import", () => {
  it("recreates the document in another database under its id, with the same data and kinds", async () => {
    const { json, doc } = await exported()
    const other = await openDb({ types: [Task] })
    expect(await other.db.importDocument(decodeDocument(JSON.stringify(json)))).toBe("created")
    const imported = await other.db.get(Task, doc.id)
    expect(imported.data).toEqual(doc.data)
    expect(imported.type).toBe("task")
    expect(imported.createdAt).toBe(doc.createdAt)
    // The importing machine signs the new history, so it is the creator (a creator cannot be claimed).
    expect(imported.createdBy).toBe(other.machine.machineId)
    expect((await other.db.exportDocument(doc.id)).data).toEqual(json.data)
    // Kinds survive: the counter still adds, the text still splices.
    const changed = await other.db.change(Task, doc.id, d => {
      d.votes.increment()
      d.body.splice(0, 0, "more ")
    })
    expect(changed.data).toMatchObject({ votes: 4, body: "more text" })
  })

  it("keeps a deleted document deleted", async () => {
    const { db, doc } = await exported()
    await db.delete(doc.id)
    const json = await db.exportDocument(doc.id)
    const other = await openDb({ types: [Task] })
    await other.db.importDocument(decodeDocument(json))
    expect((await other.db.get(doc.id)).deletedAt).toBe(json.deletedAt)
    expect(await other.db.list(Task)).toEqual([])
  })

  it("imports an untyped document where the type has no definition", async () => {
    const { json, doc } = await exported()
    const relay = await openDb()
    await relay.db.importDocument(decodeDocument(json))
    expect((await relay.db.get(doc.id)).data).toEqual(doc.data)
    expect((await relay.db.exportDocument(doc.id)).data).toEqual(json.data)
  })

  it("creates nothing when the same export is imported twice", async () => {
    const { json } = await exported()
    const other = await openDb({ types: [Task] })
    expect(await other.db.importDocument(decodeDocument(json))).toBe("created")
    const heads = other.db.catalog.get(json.id)!.heads
    const keys = [...other.storage.data.keys()].sort()
    expect(await other.db.importDocument(decodeDocument(json))).toBe("exists")
    await other.db.flush()
    expect(other.db.catalog.size).toBe(1)
    expect(other.db.catalog.get(json.id)!.heads).toEqual(heads)
    expect([...other.storage.data.keys()].sort()).toEqual(keys)
  })

  it("refuses an export whose id is here with another type", async () => {
    const { db, json, doc } = await exported()
    await expect(db.importDocument(decodeDocument({ ...json, type: "note", data: { body: { $text: "x" } } }))).rejects.toThrow(ImmutableTypeError)
    await expect(db.importDocument(decodeDocument({ ...json, type: "note" }))).rejects.toThrow(/is a task here; it cannot be imported as a note/)
    expect((await db.get(doc.id)).type).toBe("task")
  })

  it("refuses data that breaks the type's definition", async () => {
    const { json } = await exported()
    const other = await openDb({ types: [Task] })
    await expect(other.db.importDocument(decodeDocument({ ...json, data: { ...json.data, title: { $text: "t" } } }))).rejects.toThrow(ValidationError)
    await expect(other.db.importDocument(decodeDocument({ ...json, data: { ...json.data, extra: 1 } }))).rejects.toThrow(/unknown field "extra"/)
    expect(other.db.catalog.size).toBe(0)
  })
})

describe("decodeDocument refuses bad input with a CodecError naming the problem", () => {
  const good = (): ExportedDocument => ({
    format: EXPORT_FORMAT,
    id: unknownId(),
    type: "task",
    typeVersion: 1,
    createdAt: 1,
    createdBy: "0123456789abcdef0123456789abcdef",
    modifiedAt: 1,
    deletedAt: null,
    data: { title: "t" },
  })
  const cases: [string, unknown, RegExp][] = [
    ["malformed JSON", '{"format": ', /export: not valid JSON/],
    ["not an object", "[1]", /expected a JSON object/],
    ["the wrong format", { ...good(), format: "cairn.document/9" }, /"format" must be "cairn\.document\/1", got "cairn\.document\/9"/],
    ["no format", { ...good(), format: undefined }, /"format" must be/],
    ["a bad id", { ...good(), id: "not an id" }, /"id" is not a valid document id/],
    ["a bad type", { ...good(), type: "Task!" }, /"type" "Task!" is not a valid type name/],
    ["a bad createdAt", { ...good(), createdAt: "yesterday" }, /"createdAt" must be a number/],
    ["a bad typeVersion", { ...good(), typeVersion: 0 }, /"typeVersion" must be a positive integer/],
    ["a bad deletedAt", { ...good(), deletedAt: "now" }, /"deletedAt" must be a number or null/],
    ["no data", { ...good(), data: [] }, /"data" must be an object/],
    ["a bad $counter", { ...good(), data: { votes: { $counter: "3" } } }, /"\$counter" must hold a number \(at votes\)/],
    ["a bad $text", { ...good(), data: { meta: { body: { $text: 1 } } } }, /"\$text" must hold a string \(at meta\.body\)/],
    ["an unknown tag", { ...good(), data: { title: { $weird: 1 } } }, /unknown tag "\$weird": tagged JSON knows "\$text", "\$counter" and "\$map" \(at title\)/],
    ["data that is a tagged value, not a map", { ...good(), data: { $counter: 1 } }, /document data must be a map \(an object\), got a counter/],
  ]
  for (const [what, input, message] of cases) {
    it(what, () => {
      const text = typeof input === "string" ? input : JSON.stringify(input)
      expect(() => decodeDocument(text, "task.json")).toThrow(CodecError)
      expect(() => decodeDocument(text)).toThrow(message)
    })
  }

  it("names the source it was given", () => {
    expect(() => decodeDocument("nope", "backup/task.json")).toThrow(/^backup\/task\.json: not valid JSON/)
  })
})
