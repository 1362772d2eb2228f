/**
 * The compatibility check on pairs of definitions with known answers: per
 * field, and the verdict a release check acts on (0 compatible, 1 needs a
 * lens, 2 breaking). And the check agrees with the validator: where it says
 * compatible, each version accepts the documents the other creates.
 */
import * as A from "@automerge/automerge"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { checkCompatibility, verdictExitCode } from "../src/schema/compatibility.js"
import { defineType, f, type Fields } from "../src/index.js"
import { initialValue, toStored, validateStored } from "../src/schema/values.js"
import { dataFieldOf } from "../src/schema/TypeDefinition.js"

const v = (version: number, fields: Fields, name = "task") => defineType(name, { version, fields }).toJSON()

describe("checkCompatibility", () => {
  const base = { title: f.string(), done: f.boolean().default(false), status: f.string({ values: ["open", "done"] }).default("open") }

  it.each([
    ["an optional field added", { ...base, due: f.string().optional() }, "compatible", [["due", "added", "compatible"]]],
    ["a field with a default added", { ...base, priority: f.number().default(0) }, "compatible", [["priority", "added", "compatible"]]],
    ["a counter added (starts at 0)", { ...base, votes: f.counter() }, "compatible", [["votes", "added", "compatible"]]],
    ["a list added (starts empty)", { ...base, tags: f.list(f.string()) }, "compatible", [["tags", "added", "compatible"]]],
    [
      "allowed values widened",
      { ...base, status: f.string({ values: ["open", "done", "archived"] }).default("open") },
      "compatible",
      [["status", "values widened", "compatible"]],
    ],
    ["a default changed", { ...base, done: f.boolean().default(true) }, "compatible", [["done", "default changed", "compatible"]]],
    ["a field with a default removed", { title: base.title, status: base.status }, "compatible", [["done", "removed", "compatible"]]],
    ["a required field added", { ...base, owner: f.string() }, "needs a lens", [["owner", "added", "needs a lens"]]],
    ["a required field removed", { done: base.done, status: base.status }, "needs a lens", [["title", "removed", "needs a lens"]]],
    [
      "a renamed field (one removed, one added)",
      { name: f.string(), done: base.done, status: base.status },
      "needs a lens",
      [
        ["name", "added", "needs a lens"],
        ["title", "removed", "needs a lens"],
      ],
    ],
    ["a kind changed", { ...base, title: f.text() }, "needs a lens", [["title", "kind changed", "needs a lens"]]],
    [
      "allowed values narrowed",
      { ...base, status: f.string({ values: ["open"] }).default("open") },
      "needs a lens",
      [["status", "values narrowed", "needs a lens"]],
    ],
    [
      "a required field made optional",
      { ...base, title: f.string().optional() },
      "needs a lens",
      [["title", "now optional", "needs a lens"]],
    ],
    [
      "a field inside a map added",
      { ...base, address: f.map({ city: f.string().optional() }) },
      "compatible",
      [["address", "added", "compatible"]],
    ],
  ] as const)("%s", (_, fields, verdict, changes) => {
    const report = checkCompatibility(v(1, base), v(2, fields as Fields))
    expect(report.verdict).toBe(verdict)
    expect(report.fields.map(c => [c.path, c.change, c.verdict]).sort()).toEqual([...changes].map(c => [...c]).sort())
    expect(report.problems).toEqual([])
  })

  it("looks inside maps and lists", () => {
    const old = v(1, { address: f.map({ city: f.string(), zip: f.string().optional() }), items: f.list(f.map({ n: f.number() })) })
    const next = v(2, {
      address: f.map({ city: f.text(), zip: f.string().optional() }),
      items: f.list(f.map({ n: f.number(), x: f.string() })),
    })
    const report = checkCompatibility(old, next)
    expect(report.fields.map(c => [c.path, c.change])).toEqual([
      ["address.city", "kind changed"],
      ["items[].x", "added"],
    ])
  })

  it("is breaking when the version does not rise for a change that needs a lens, goes down, or the name changes", () => {
    const lensed = checkCompatibility(v(1, { title: f.string() }), v(1, { name: f.string() }))
    expect(lensed.verdict).toBe("breaking")
    expect(lensed.problems[0]).toMatch(/the version stayed 1/)
    expect(checkCompatibility(v(2, { title: f.string() }), v(1, { title: f.string() })).verdict).toBe("breaking")
    expect(checkCompatibility(v(1, { title: f.string() }), v(2, { title: f.string() }, "note")).verdict).toBe("breaking")
    // A compatible change may keep its version.
    expect(checkCompatibility(v(1, { title: f.string() }), v(1, { title: f.string(), n: f.number().optional() })).verdict).toBe(
      "compatible",
    )
    expect([verdictExitCode("compatible"), verdictExitCode("needs a lens"), verdictExitCode("breaking")]).toEqual([0, 1, 2])
  })

  describe("with a declared lens", () => {
    const old = v(1, { title: f.string(), estimate: f.number(), tag: f.string().optional(), done: f.boolean().default(false) })
    const withLens = (fields: Fields, ops: unknown[]) =>
      defineType("task", { version: 2, fields, lenses: [{ from: 1, to: 2, ops: ops as never }] }).toJSON()

    it("calls a rename, a kind change and a wrap it covers compatible, marked as by the lens", () => {
      const next = withLens({ name: f.string(), estimate: f.string(), tag: f.list(f.string()), done: f.boolean().default(false) }, [
        { op: "rename", from: ["title"], to: ["name"] },
        { op: "convert", path: ["estimate"], from: "number", to: "string" },
        { op: "wrap", path: ["tag"] },
      ])
      const report = checkCompatibility(old, next)
      expect(report.verdict).toBe("compatible")
      expect(
        report.fields
          .filter(c => c.lens)
          .map(c => c.path)
          .sort(),
      ).toEqual(["estimate", "name", "tag", "title"])
      expect(report.fields.every(c => c.verdict === "compatible")).toBe(true)
      expect(report.fields[0]!.reason).toMatch(/^compatible with the declared lens/)
    })

    it("leaves what the lens does not cover, or covers wrongly, needing a lens", () => {
      const next = withLens({ name: f.string(), estimate: f.boolean(), owner: f.string(), done: f.boolean().default(false) }, [
        { op: "rename", from: ["title"], to: ["name"] },
        // Declared as number → string, but version 2 made it a boolean: the lens does not produce what version 2 reads.
        { op: "convert", path: ["estimate"], from: "number", to: "string" },
      ])
      const report = checkCompatibility(old, next)
      expect(report.verdict).toBe("needs a lens")
      const byPath = Object.fromEntries(report.fields.map(c => [c.path, c]))
      expect(byPath.name!.verdict).toBe("compatible")
      expect(byPath.owner!.verdict).toBe("needs a lens")
      expect(byPath.estimate!.verdict).toBe("needs a lens")
      expect(byPath.estimate!.reason).toMatch(/the declared lens does not cover it/)
    })
  })

  // Random pairs of flat definitions: where the check says compatible, a document each version creates (every field
  // that cannot start by itself given a value) validates under the other (as stored: another version may have written it).
  const scalar = fc.constantFrom(
    () => f.string(),
    () => f.number(),
    () => f.string().optional(),
    () => f.number().default(1),
    () => f.counter(),
    () => f.text().default(""),
    () => f.string({ values: ["a", "b"] }).default("a"),
    () => f.string({ values: ["a"] }).default("a"),
  )
  const fields = fc.dictionary(fc.constantFrom("p", "q", "r", "s"), scalar, { maxKeys: 4 }).map(entries => {
    const out: Fields = {}
    for (const [key, make] of Object.entries(entries)) out[key] = make()
    return out
  })
  const initialValueOrUndefined = (field: Parameters<typeof initialValue>[0]) => {
    if (field.optional) return undefined
    try {
      return initialValue(field, [])
    } catch {
      return undefined
    }
  }
  it("agrees with the validator: a compatible pair reads each other's documents", () => {
    fc.assert(
      fc.property(fields, fields, (a, b) => {
        const [old, next] = [defineType("t", { version: 1, fields: a }), defineType("t", { version: 2, fields: b })]
        const report = checkCompatibility(old.toJSON(), next.toJSON())
        const readsOther = (writer: typeof old, reader: typeof old) => {
          const data: Record<string, unknown> = {}
          for (const [key, field] of Object.entries(writer.toJSON().fields)) {
            const start = initialValueOrUndefined(field)
            data[key] = start ?? toStored(field, field.kind === "register" && field.of === "number" ? 1 : "a", [key])
          }
          const doc = A.from({ data })
          try {
            validateStored(dataFieldOf(reader), doc.data, [], { fromOtherVersions: true })
            return true
          } catch {
            return false
          }
        }
        if (report.verdict === "compatible") expect(readsOther(old, next) && readsOther(next, old)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })
})
