import * as A from "@automerge/automerge"
import { Counter, ImmutableString } from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import {
  CodecError,
  decodeDocument,
  defineType,
  EXPORT_FORMAT,
  f,
  ImmutableTypeError,
  ValidationError,
  type ExportedDocument,
} from "../src/index.js"
import { openDb, unknownId } from "./helpers.js"
import { fromHex } from "../src/identity/actor.js"

const Task = defineType("task", {
  version: 2,
  fields: {
    title: f.string(),
    votes: f.counter(),
    body: f.text(),
    meta: f.map({ owner: f.string() }),
    tags: f.list(f.string()),
    flags: f.record(f.boolean()),
  },
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
      // The machine's vouch for its change (identity/vouch.ts), which an import of the history checks.
      vouches: expect.stringMatching(/^[0-9a-f]{256}$/),
    })
  })

  it("decodes to stored form with the same kinds and metadata", async () => {
    const { json } = await exported()
    const decoded = decodeDocument(JSON.stringify(json))
    const { format, data, vouches, ...meta } = json
    expect(decoded).toMatchObject(meta)
    expect(decoded.vouches).toEqual(fromHex(vouches!))
    expect(decoded.data.title).toBeInstanceOf(ImmutableString)
    expect(decoded.data.votes).toBeInstanceOf(Counter)
    expect(decoded.data.body).toBe("text")
    expect((decoded.data.meta as Record<string, unknown>).owner).toBeInstanceOf(ImmutableString)
  })
})

describe("import", () => {
  it("imports JSON alone as a new document with a new id, the same data and kinds", async () => {
    const { json, doc } = await exported()
    const other = await openDb({ types: [Task] })
    const { result, id } = await other.db.importDocument(decodeDocument(JSON.stringify(json)))
    expect(result).toBe("created")
    // The JSON carries no history, and an id stands for one history: a document made anew gets an id of its own.
    expect(id).not.toBe(doc.id)
    const imported = await other.db.get(Task, id)
    expect(imported.data).toEqual(doc.data)
    expect(imported.type).toBe("task")
    expect(imported.createdAt).toBe(doc.createdAt)
    expect(imported.createdBy).toBe(other.machine.machineId)
    expect((await other.db.exportDocument(id)).data).toEqual(json.data)
    const changed = await other.db.change(Task, id, d => {
      d.votes.increment()
      d.body.splice(0, 0, "more ")
    })
    expect(changed.data).toMatchObject({ votes: 4, body: "more text" })
  })

  it("imports a history as the very same document, which merges with every other copy of it", async () => {
    const { db, json, doc } = await exported()
    const history = await db.exportHistory(doc.id)
    const other = await openDb({ types: [Task] })
    // Without the vouches exported beside it, no change in it is proven to be its machine's: refused, nothing stored.
    await expect(other.db.importHistory(doc.id, history)).rejects.toThrow(/without that machine's signature/)
    expect(other.db.catalog.get(doc.id)).toBeUndefined()
    expect(await other.db.importHistory(doc.id, history, decodeDocument(JSON.stringify(json)))).toBe("created")
    const imported = await other.db.get(Task, doc.id)
    expect(imported.data).toEqual(doc.data)
    expect(imported.createdBy).toBe(doc.createdBy)
    expect(other.db.catalog.get(doc.id)!.heads).toEqual(db.catalog.get(doc.id)!.heads)
    expect(await other.db.importHistory(doc.id, history)).toBe("unchanged")
    // Both go on; each side's history merges into the other's without a second creation.
    await db.change(Task, doc.id, d => d.votes.increment())
    await other.db.change(Task, doc.id, d => d.body.splice(0, 0, "other "))
    const again = decodeDocument(JSON.stringify(await db.exportDocument(doc.id)))
    expect(await other.db.importHistory(doc.id, await db.exportHistory(doc.id), again)).toBe("merged")
    const merged = await other.db.get(Task, doc.id)
    expect(merged.data).toMatchObject({ votes: 4, body: "other text" })
    expect(other.db.catalog.get(doc.id)!.quarantined).toBeUndefined()
    expect(json.id).toBe(doc.id)
  })

  it("refuses a history that is not a Cairn document or whose type was rewritten, and keeps what is stored", async () => {
    const { db, doc } = await exported()
    await expect(db.importHistory(doc.id, new Uint8Array([1, 2, 3]))).rejects.toThrow(/does not load/)
    const bytes = await db.exportHistory(doc.id)
    const rewritten = A.save(A.change(A.load(bytes), (d: any) => (d.type = new A.ImmutableString("note"))))
    await expect(db.importHistory(doc.id, rewritten)).rejects.toThrow(/refused: its type was changed/)
    expect((await db.get(Task, doc.id)).data).toEqual(doc.data)
  })

  it("JSON of a document that is here is written on top of it, as changes", async () => {
    const { db, json, doc } = await exported()
    const edited = {
      ...json,
      data: { ...json.data, title: "Edited in the file", votes: { $counter: 10 }, body: { $text: "text, edited" } },
    }
    expect(await db.importDocument(decodeDocument(edited))).toEqual({ result: "changed", id: doc.id })
    const after = await db.get(Task, doc.id)
    expect(after.data).toMatchObject({ title: "Edited in the file", votes: 10, body: "text, edited" })
    expect(await db.importDocument(decodeDocument(edited))).toEqual({ result: "unchanged", id: doc.id })
    // The counter moved by an increment, so a concurrent increment elsewhere still adds up.
    expect((await db.history(doc.id)).length).toBeGreaterThan(1)
  })

  it("keeps a deleted document deleted", async () => {
    const { db, doc } = await exported()
    await db.delete(doc.id)
    const json = await db.exportDocument(doc.id)
    const other = await openDb({ types: [Task] })
    const { id } = await other.db.importDocument(decodeDocument(json))
    expect((await other.db.get(id)).deletedAt).toBe(json.deletedAt)
    expect(await other.db.list(Task)).toEqual([])
  })

  it("imports an untyped document where the type has no definition", async () => {
    const { json, doc } = await exported()
    const relay = await openDb()
    const { id } = await relay.db.importDocument(decodeDocument(json))
    expect((await relay.db.get(id)).data).toEqual(doc.data)
    expect((await relay.db.exportDocument(id)).data).toEqual(json.data)
  })

  it("changes nothing when the same JSON is imported again", async () => {
    const { json } = await exported()
    const other = await openDb({ types: [Task] })
    const { id } = await other.db.importDocument(decodeDocument(json))
    const again = { ...json, id }
    const heads = other.db.catalog.get(id)!.heads
    const keys = [...other.storage.data.keys()].sort()
    expect(await other.db.importDocument(decodeDocument(again))).toEqual({ result: "unchanged", id })
    await other.db.replica.flush()
    expect(other.db.catalog.size).toBe(1)
    expect(other.db.catalog.get(id)!.heads).toEqual(heads)
    expect([...other.storage.data.keys()].sort()).toEqual(keys)
  })

  it("refuses an export whose id is here with another type", async () => {
    const { db, json, doc } = await exported()
    await expect(db.importDocument(decodeDocument({ ...json, type: "note", data: { body: { $text: "x" } } }))).rejects.toThrow(
      ImmutableTypeError,
    )
    await expect(db.importDocument(decodeDocument({ ...json, type: "note" }))).rejects.toThrow(
      /is a task here; it cannot be imported as a note/,
    )
    expect((await db.get(doc.id)).type).toBe("task")
  })

  it("refuses data that breaks the type's definition", async () => {
    const { json } = await exported()
    const other = await openDb({ types: [Task] })
    await expect(other.db.importDocument(decodeDocument({ ...json, data: { ...json.data, title: { $text: "t" } } }))).rejects.toThrow(
      ValidationError,
    )
    await expect(other.db.importDocument(decodeDocument({ ...json, data: { ...json.data, extra: 1 } }))).rejects.toThrow(
      /unknown field "extra"/,
    )
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
    [
      "an unknown tag",
      { ...good(), data: { title: { $weird: 1 } } },
      /unknown tag "\$weird": tagged JSON knows "\$text", "\$counter" and "\$map" \(at title\)/,
    ],
    [
      "data that is a tagged value, not a map",
      { ...good(), data: { $counter: 1 } },
      /document data must be a map \(an object\), got a counter/,
    ],
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
