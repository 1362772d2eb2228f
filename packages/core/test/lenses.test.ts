/**
 * Lenses: a version 2 app reads and writes documents created at version 1
 * through the lens its definition declares, and the version 1 app keeps
 * reading them as its own shape; concurrent edits from both merge as edits
 * of one field. Plus the lens operations as data: checked, round-tripped
 * through JSON, and get(put(x)) = x.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { defineType, f, typeFromJSON, TypeDefinitionError, ValidationError } from "../src/index.js"
import { type LensOp, lensBackward, lensForward } from "../src/schema/lenses.js"
import { exchange, openDb, sendDocs, waitFor } from "./helpers.js"

const TaskV1 = defineType("task", {
  version: 1,
  fields: {
    title: f.text(),
    estimate: f.number().default(0),
    status: f.string({ values: ["todo", "done"] }).default("todo"),
    tag: f.string().optional(),
  },
})

const lens: LensOp[] = [
  { op: "rename", from: ["title"], to: ["name"] },
  { op: "convert", path: ["estimate"], from: "number", to: "string" },
  {
    op: "convert",
    path: ["status"],
    from: "string",
    to: "string",
    map: [
      ["todo", "open"],
      ["done", "closed"],
    ],
  },
  { op: "wrap", path: ["tag"] },
]

const TaskV2 = defineType("task", {
  version: 2,
  fields: {
    name: f.text(),
    estimate: f.string().default("0"),
    status: f.string({ values: ["open", "closed"] }).default("open"),
    tag: f.list(f.string()),
    priority: f.number().default(1),
  },
  lenses: [{ from: 1, to: 2, ops: lens }],
})

async function v1AndV2() {
  const old = await openDb({ types: [TaskV1] })
  const next = await openDb({ types: [TaskV2] })
  const created = await old.db.create(TaskV1, { title: "Write docs", estimate: 3, status: "todo", tag: "docs" })
  await sendDocs(old.db, next.db, [created.id])
  return { old: old.db, next: next.db, id: created.id }
}

describe("a version 2 app on documents created at version 1", () => {
  it("reads them in its own shape through the lens, and is not quarantined", async () => {
    const { next, id } = await v1AndV2()
    expect(next.catalog.get(id)!.quarantined).toBeUndefined()
    expect((await next.get(TaskV2, id)).data).toEqual({ name: "Write docs", estimate: "3", status: "open", tag: ["docs"], priority: 1 })
  })

  it("writes through the lens; the version 1 app reads the same document in its shape", async () => {
    const { old, next, id } = await v1AndV2()
    await next.change(TaskV2, id, draft => {
      draft.name.splice(0, 5, "Review")
      draft.estimate = "5"
      draft.status = "closed"
      draft.tag.delete(0)
      draft.tag.push("review")
      draft.priority = 3
    })
    await sendDocs(next, old, [id])
    expect(old.catalog.get(id)!.quarantined).toBeUndefined()
    // priority is version 2's own field: version 1 keeps it, as an older app keeps any field it does not know.
    expect((await old.get(TaskV1, id)).data).toEqual({ title: "Review docs", estimate: 5, status: "done", tag: "review", priority: 3 })
  })

  it("lists its own fields as the draft's keys: Object.keys, in and spread see the version 2 shape", async () => {
    const { next, id } = await v1AndV2()
    let seen: unknown
    await next.change(TaskV2, id, draft => {
      const spread = { ...draft } as Record<string, unknown>
      seen = {
        keys: Object.keys(draft).sort(),
        renamed: "name" in draft,
        stored: "title" in draft,
        spread: Object.keys(spread).sort(),
        status: spread.status,
        tag: [...(spread.tag as Iterable<unknown>)],
      }
    })
    expect(seen).toEqual({
      keys: ["estimate", "name", "priority", "status", "tag"],
      renamed: true,
      stored: false,
      spread: ["estimate", "name", "priority", "status", "tag"],
      status: "open",
      tag: ["docs"],
    })
  })

  it("lists a field moved into a map under the map, and not where it is stored", async () => {
    const V1 = defineType("note", { version: 1, fields: { title: f.string(), body: f.string() } })
    const V2 = defineType("note", {
      version: 2,
      fields: { meta: f.map({ title: f.string() }), body: f.string() },
      lenses: [{ from: 1, to: 2, ops: [{ op: "rename", from: ["title"], to: ["meta", "title"] }] }],
    })
    const [old, next] = [await openDb({ types: [V1] }), await openDb({ types: [V2] })]
    const made = await old.db.create(V1, { title: "moved", body: "stays" })
    await sendDocs(old.db, next.db, [made.id])
    let seen: unknown
    await next.db.change(V2, made.id, draft => {
      seen = { top: Object.keys(draft).sort(), meta: Object.keys(draft.meta), title: { ...draft.meta }.title }
    })
    expect(seen).toEqual({ top: ["body", "meta"], meta: ["title"], title: "moved" })
  })

  it("merges concurrent text edits of the renamed field as edits of one text", async () => {
    const { old, next, id } = await v1AndV2()
    await old.change(TaskV1, id, draft => draft.title.splice(draft.title.length, 0, " today"))
    await next.change(TaskV2, id, draft => draft.name.splice(0, 0, "Please "))
    await exchange(old, next, [id])
    expect((await old.get(TaskV1, id)).data.title).toBe("Please Write docs today")
    expect((await next.get(TaskV2, id)).data.name).toBe("Please Write docs today")
    expect(Object.keys((await old.get(TaskV1, id)).data)).not.toContain("name")
  })

  it("refuses a value that has no form in the older shape, naming the field", async () => {
    const { next, id } = await v1AndV2()
    await expect(next.change(TaskV2, id, draft => draft.tag.push("second"))).rejects.toThrow(/at most one item/)
    await expect(next.change(TaskV2, id, draft => void (draft.estimate = "soon"))).rejects.toThrow(ValidationError)
    await expect(next.change(TaskV2, id, draft => void (draft.estimate = "soon"))).rejects.toThrow(/estimate/)
    expect((await next.get(TaskV2, id)).data.estimate).toBe("3")
  })

  it("shows them in its own shape in a live query too, filtered by its own field names", async () => {
    const { next } = await v1AndV2()
    const results: unknown[][] = []
    const stop = next.liveQuery(TaskV2, { where: { status: "open" } }, docs => results.push(docs.map(doc => doc.data.name)))
    await waitFor(() => results.length > 0)
    stop()
    expect(results.at(-1)).toEqual(["Write docs"])
  })

  it("creates at its own version: no lens between it and its own documents", async () => {
    const { next } = await v1AndV2()
    const own = await next.create(TaskV2, { name: "New", tag: ["a"] })
    expect((await next.get(TaskV2, own.id)).data).toEqual({ name: "New", estimate: "0", status: "open", tag: ["a"], priority: 1 })
  })
})

describe("a version 1 app on documents created at version 2", () => {
  async function v2Created() {
    const old = await openDb({ types: [TaskV1] })
    const next = await openDb({ types: [TaskV2] })
    const created = await next.db.create(TaskV2, { name: "Ship it", estimate: "8", status: "closed", tag: ["a", "b"] })
    await sendDocs(next.db, old.db, [created.id])
    return { old: old.db, next: next.db, id: created.id }
  }

  it("quarantines them without the newer definition, and reads them in its own shape once it learns it", async () => {
    const { old, id } = await v2Created()
    expect(old.catalog.get(id)!.quarantined).toMatch(/title/)
    expect(await old.learnNewer(typeFromJSON(JSON.parse(JSON.stringify(TaskV2.toJSON()))))).toBe(true)
    expect(old.catalog.get(id)!.quarantined).toBeUndefined()
    expect((await old.get(TaskV1, id)).data).toEqual({ title: "Ship it", estimate: 8, status: "done", tag: "a", priority: 1 })
  })

  it("writes back in the newer shape, keeping what its own shape cannot hold", async () => {
    const { old, next, id } = await v2Created()
    await old.learnNewer(TaskV2)
    await old.change(TaskV1, id, draft => {
      draft.title.splice(0, 4, "Test")
      draft.estimate = 13
      draft.status = "todo"
      draft.tag = "z"
    })
    await sendDocs(old, next, [id])
    // The list's other items stay: version 1 sees, and so replaces, only the first.
    expect((await next.get(TaskV2, id)).data).toEqual({ name: "Test it", estimate: "13", status: "open", tag: ["z", "b"], priority: 1 })
  })

  it("keeps the first of two different definitions of one version, and says so", async () => {
    const { old } = await v2Created()
    await old.learnNewer(TaskV2)
    const other = defineType("task", {
      version: 2,
      fields: { title: f.text() },
      lenses: [{ from: 1, to: 2, ops: [{ op: "head", path: ["x"] }] }],
    })
    await expect(old.learnNewer(other)).rejects.toThrow(/two different definitions of task version 2/)
    expect(await old.learnNewer(TaskV2)).toBe(false)
  })
})

describe("lenses as data", () => {
  it("travel in the definition's JSON and come back the same", () => {
    const json = JSON.parse(JSON.stringify(TaskV2.toJSON()))
    expect(json.lenses).toEqual([{ from: 1, to: 2, ops: lens }])
    expect(typeFromJSON(json).toJSON()).toEqual(TaskV2.toJSON())
  })

  it.each([
    [{ op: "eval", path: ["a"] }, /unknown lens operation "eval"/],
    [{ op: "convert", path: ["a"], from: "number", to: "boolean" }, /no conversion from "number" to "boolean"/],
    [
      {
        op: "convert",
        path: ["a"],
        from: "string",
        to: "string",
        map: [
          ["a", "x"],
          ["b", "x"],
        ],
      },
      /one to one/,
    ],
    [{ op: "rename", from: ["a"], to: ["a", "b"] }, /into or onto itself/],
    [{ op: "rename", from: [], to: ["b"] }, /non-empty list of field names/],
  ])("refuses a bad operation %j", (op, message) => {
    const json = { name: "task", version: 2, fields: {}, lenses: [{ from: 1, to: 2, ops: [op] }] }
    expect(() => typeFromJSON(json)).toThrow(TypeDefinitionError)
    expect(() => typeFromJSON(json)).toThrow(message)
  })

  it("refuses a step that goes past the type's version", () => {
    expect(() => typeFromJSON({ name: "task", version: 2, fields: {}, lenses: [{ from: 2, to: 3, ops: [] }] })).toThrow(
      /above the type's 2/,
    )
  })

  it("round-trips: put then get gives back what the newer shape held (and get then put the older)", () => {
    const ops: LensOp[] = [
      ...lens,
      { op: "rename", from: ["city"], to: ["address", "city"] },
      { op: "rename", from: ["meta", "owner"], to: ["owner"] },
      {
        op: "convert",
        path: ["flag"],
        from: "boolean",
        to: "string",
        map: [
          [true, "yes"],
          [false, "no"],
        ],
      },
      { op: "head", path: ["authors"] },
    ]
    const newer = fc.record(
      {
        name: fc.string(),
        estimate: fc.double({ noNaN: true, noDefaultInfinity: true }).map(n => String(n)),
        status: fc.constantFrom("open", "closed"),
        tag: fc.array(fc.string(), { maxLength: 1 }),
        address: fc.record({ city: fc.string() }),
        owner: fc.string(),
        flag: fc.constantFrom("yes", "no"),
        authors: fc.string(),
      },
      { requiredKeys: ["name"] },
    )
    fc.assert(
      fc.property(newer, value => {
        const data = value as Record<string, unknown>
        const back = lensForward(ops, lensBackward(ops, data))
        // An empty list has no register form: it reads back as missing, which the newer field's default fills.
        if (Array.isArray(data.tag) && data.tag.length === 0) delete data.tag
        expect(back).toEqual(data)
      }),
    )
    const older = fc.record({
      title: fc.string(),
      estimate: fc.double({ noNaN: true, noDefaultInfinity: true }).map(n => (n === 0 ? 0 : n)),
      status: fc.constantFrom("todo", "done"),
      tag: fc.string(),
      flag: fc.boolean(),
      authors: fc.array(fc.string(), { minLength: 1, maxLength: 1 }),
    })
    fc.assert(fc.property(older, data => void expect(lensBackward(ops, lensForward(ops, data))).toEqual(data)))
  })
})
