/**
 * A string register ↔ text `convert`: version 2 of a note makes the string
 * `title` collaborative text and the text `body` a string register. Each
 * version reads and writes the other's documents in its own shape, and the
 * stored kind never changes (the version 1 app would quarantine a document
 * whose `title` became text): on the register's side an edit replaces the
 * value, on the text's side it is a minimal diff, so concurrent splices
 * from both versions merge.
 */
import { describe, expect, it } from "vitest"
import { checkCompatibility, defineType, f, typeFromJSON, TypeDefinitionError } from "../src/index.js"
import { exchange, openDb, sendDocs } from "./helpers.js"

const NoteV1 = defineType("note", { version: 1, fields: { title: f.string(), body: f.text().default("") } })
const NoteV2 = defineType("note", {
  version: 2,
  fields: { title: f.text(), body: f.string().default("") },
  lenses: [
    {
      from: 1,
      to: 2,
      ops: [
        { op: "convert", path: ["title"], from: "string", to: "text" },
        { op: "convert", path: ["body"], from: "text", to: "string" },
      ],
    },
  ],
})

async function v1AndV2() {
  const old = (await openDb({ types: [NoteV1] })).db
  const next = (await openDb({ types: [NoteV2] })).db
  return { old, next }
}

describe("string register ↔ text through a lens", () => {
  it("a version 2 app edits a version 1 document's string as text and its text as a string; version 1 reads its own kinds", async () => {
    const { old, next } = await v1AndV2()
    const { id } = await old.create(NoteV1, { title: "Plan", body: "first line" })
    await sendDocs(old, next, [id])
    expect(next.catalog.get(id)!.quarantined).toBeUndefined()
    expect((await next.get(NoteV2, id)).data).toEqual({ title: "Plan", body: "first line" })

    await next.change(NoteV2, id, draft => {
      draft.title.splice(4, 0, " the week")
      expect(draft.title.value).toBe("Plan the week")
      draft.body = "first line, revised"
    })
    await sendDocs(next, old, [id])
    expect(old.catalog.get(id)!.quarantined).toBeUndefined()
    expect((await old.get(NoteV1, id)).data).toEqual({ title: "Plan the week", body: "first line, revised" })
    // Still a register on version 1's side: it is set whole, and the text still takes splices.
    await old.change(NoteV1, id, draft => {
      draft.title = "Plan"
      draft.body.splice(0, 0, "> ")
    })
    expect((await old.get(NoteV1, id)).data).toEqual({ title: "Plan", body: "> first line, revised" })
  })

  it("concurrent edits of the text from both versions merge character by character; the register keeps one value", async () => {
    const { old, next } = await v1AndV2()
    const { id } = await old.create(NoteV1, { title: "Plan", body: "middle" })
    await sendDocs(old, next, [id])
    await old.change(NoteV1, id, draft => {
      draft.body.splice(0, 0, "start ")
      draft.title = "from version 1"
    })
    // Version 2 writes a string: stored as a diff of the text, so it merges with version 1's splice.
    await next.change(NoteV2, id, draft => {
      draft.body = "middle end"
      draft.title.set("from version 2")
    })
    await exchange(old, next, [id])
    const a = (await old.get(NoteV1, id)).data
    const b = (await next.get(NoteV2, id)).data
    expect(a.body).toBe("start middle end")
    expect(b.body).toBe("start middle end")
    expect(["from version 1", "from version 2"]).toContain(a.title)
    expect(b.title).toBe(a.title)
  })

  it("a version 1 app that learnt version 2 edits version 2's documents in its own kinds", async () => {
    const { old, next } = await v1AndV2()
    await old.learnNewer(typeFromJSON(JSON.parse(JSON.stringify(NoteV2.toJSON()))))
    const { id } = await next.create(NoteV2, { title: "Made by 2", body: "a string" })
    await sendDocs(next, old, [id])
    expect(old.catalog.get(id)!.quarantined).toBeUndefined()
    await old.change(NoteV1, id, draft => {
      draft.title = "Made by 2, titled by 1"
      draft.body.splice(1, 0, "nother")
    })
    expect((await old.get(NoteV1, id)).data).toEqual({ title: "Made by 2, titled by 1", body: "another string" })
    await sendDocs(old, next, [id])
    expect(next.catalog.get(id)!.quarantined).toBeUndefined()
    expect((await next.get(NoteV2, id)).data).toEqual({ title: "Made by 2, titled by 1", body: "another string" })
  })

  it("the check calls the kind change needs a lens, and compatible with the declared one", () => {
    const bare = { ...NoteV2.toJSON(), lenses: undefined }
    const without = checkCompatibility(NoteV1.toJSON(), bare)
    expect(without.verdict).toBe("needs a lens")
    expect(without.fields.map(change => [change.path, change.verdict])).toEqual([
      ["title", "needs a lens"],
      ["body", "needs a lens"],
    ])
    const withLens = checkCompatibility(NoteV1.toJSON(), NoteV2.toJSON())
    expect(withLens.verdict).toBe("compatible")
    expect(withLens.fields.every(change => change.lens === true)).toBe(true)
  })

  it("refuses a value table on a string ↔ text conversion, and text to a number", () => {
    const lens = (op: object) => ({ name: "note", version: 2, fields: {}, lenses: [{ from: 1, to: 2, ops: [op] }] })
    expect(() => typeFromJSON(lens({ op: "convert", path: ["t"], from: "string", to: "text", map: [["a", "b"]] }))).toThrow(
      TypeDefinitionError,
    )
    expect(() => typeFromJSON(lens({ op: "convert", path: ["t"], from: "text", to: "number" }))).toThrow(
      /no conversion from "text" to "number"/,
    )
  })
})
