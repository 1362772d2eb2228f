import { describe, expect, expectTypeOf, it } from "vitest"
import {
  defineType,
  f,
  fieldFromJSON,
  isTypeName,
  typeFromJSON,
  TypeDefinitionError,
  type CreateDataOf,
  type DataOf,
  type TypeDefinitionJSON,
} from "../src/index.js"

const Everything = defineType("kitchen.sink", {
  version: 3,
  fields: {
    title: f.string(),
    size: f.number(),
    done: f.boolean().default(false),
    nothing: f.null(),
    note: f.string().optional(),
    status: f.string({ values: ["open", "closed"] }).default("open"),
    votes: f.counter(),
    body: f.text(),
    meta: f.map({ owner: f.string(), rank: f.number().optional() }),
    scores: f.record(f.number()),
    tags: f.list(f.string()),
  },
})

describe("defineType", () => {
  it("describes every field kind in its JSON form", () => {
    expect(Everything.toJSON()).toEqual({
      name: "kitchen.sink",
      version: 3,
      fields: {
        title: { kind: "register", of: "string" },
        size: { kind: "register", of: "number" },
        done: { kind: "register", of: "boolean", default: false },
        nothing: { kind: "register", of: "null" },
        note: { kind: "register", of: "string", optional: true },
        status: { kind: "register", of: "string", values: ["open", "closed"], default: "open" },
        votes: { kind: "counter" },
        body: { kind: "text" },
        meta: {
          kind: "map",
          fields: { owner: { kind: "register", of: "string" }, rank: { kind: "register", of: "number", optional: true } },
        },
        scores: { kind: "record", of: { kind: "register", of: "number" } },
        tags: { kind: "list", of: { kind: "register", of: "string" } },
      },
    })
  })

  it("keeps fields immutable: modifiers return new fields", () => {
    const title = f.string()
    const optionalTitle = title.optional()
    expect(title.isOptional).toBe(false)
    expect(optionalTitle.isOptional).toBe(true)
    expect(title.hasDefault).toBe(false)
    expect(title.default("x").hasDefault).toBe(true)
    expect(f.counter().kind).toBe("counter")
  })

  it("defaults to version 1 and refuses a version that is not a positive integer", () => {
    expect(defineType("a", { fields: {} }).version).toBe(1)
    expect(() => defineType("a", { version: 0, fields: {} })).toThrow(TypeDefinitionError)
    expect(() => defineType("a", { version: 1.5, fields: {} })).toThrow(/version must be a positive integer/)
  })

  it("refuses invalid type names, naming the name", () => {
    for (const name of ["", "Task", "1task", "task name", "tâche", "a".repeat(65), "-x"]) {
      expect(() => defineType(name, { fields: {} }), name).toThrow(TypeDefinitionError)
      expect(isTypeName(name)).toBe(false)
    }
    expect(() => defineType("Task", { fields: {} })).toThrow(/invalid type name "Task"/)
    for (const name of ["task", "budget.transfer", "a-b_c.1", "a".repeat(64)]) expect(isTypeName(name), name).toBe(true)
  })

  it("refuses field names that are empty or start with $", () => {
    expect(() => defineType("t", { fields: { $text: f.string() } })).toThrow(TypeDefinitionError)
    expect(() => defineType("t", { fields: { "": f.string() } })).toThrow(/field name "" is not allowed/)
  })

  it("refuses a default that does not fit its field", () => {
    expect(() => defineType("t", { fields: { status: f.string({ values: ["a", "b"] }).default("c" as "a") } })).toThrow(TypeDefinitionError)
    expect(() => defineType("t", { fields: { status: f.string({ values: ["a", "b"] }).default("c" as "a") } })).toThrow(
      /field status has a default/,
    )
    expect(() => defineType("t", { fields: { m: f.map({ n: f.number().default("x" as never) }) } })).toThrow(/field m\.n has a default/)
  })

  it("refuses a default on a map, record or list", () => {
    expect(() => f.list(f.string()).default([] as never)).toThrow(TypeDefinitionError)
    expect(() => f.map({}).default({} as never)).toThrow(/takes no default/)
  })
})

describe("inferred TypeScript types", () => {
  it("gives the data type and the create type from the definition", () => {
    type Data = DataOf<typeof Everything>
    expectTypeOf<Data["title"]>().toEqualTypeOf<string>()
    expectTypeOf<Data["size"]>().toEqualTypeOf<number>()
    expectTypeOf<Data["nothing"]>().toEqualTypeOf<null>()
    expectTypeOf<Data["status"]>().toEqualTypeOf<"open" | "closed">()
    expectTypeOf<Data["votes"]>().toEqualTypeOf<number>()
    expectTypeOf<Data["body"]>().toEqualTypeOf<string>()
    expectTypeOf<Data["meta"]>().toEqualTypeOf<{ owner: string; rank?: number }>()
    expectTypeOf<Data["scores"]>().toEqualTypeOf<Record<string, number>>()
    expectTypeOf<Data["tags"]>().toEqualTypeOf<string[]>()
    expectTypeOf<Data>().toHaveProperty("note").toEqualTypeOf<string | undefined>()

    type Create = CreateDataOf<typeof Everything>
    // Required on create: registers without a default, text, map. Optional: defaults, counters, records, lists, optional fields.
    expectTypeOf<{ title: string; size: number; nothing: null; body: string; meta: { owner: string } }>().toMatchTypeOf<Create>()
    expectTypeOf<{ size: number }>().not.toMatchTypeOf<Create>()
    expectTypeOf<Create["status"]>().toEqualTypeOf<"open" | "closed" | undefined>()
  })

  it("lets create leave out a map whose fields can all start empty", () => {
    const T = defineType("t", { fields: { loose: f.map({ a: f.string().optional(), n: f.counter() }), strict: f.map({ a: f.string() }) } })
    expectTypeOf<CreateDataOf<typeof T>>().toHaveProperty("loose").toEqualTypeOf<{ a?: string; n: number } | undefined>()
    expectTypeOf<CreateDataOf<typeof T>>().toHaveProperty("strict").toEqualTypeOf<{ a: string }>()
  })

  it("lets a counter and text take a default in their app form", () => {
    const T = defineType("t", { fields: { n: f.counter().default(5), body: f.text().default("hi") } })
    expect(T.toJSON().fields).toEqual({ n: { kind: "counter", default: 5 }, body: { kind: "text", default: "hi" } })
    expectTypeOf<CreateDataOf<typeof T>>().toEqualTypeOf<{ n?: number; body?: string }>()
  })
})

describe("typeFromJSON", () => {
  it("round-trips every field kind", () => {
    const back = typeFromJSON(Everything.toJSON())
    expect(back.toJSON()).toEqual(Everything.toJSON())
    expect(back.name).toBe("kitchen.sink")
    expect(back.version).toBe(3)
    expect(typeFromJSON(JSON.parse(JSON.stringify(Everything))).toJSON()).toEqual(Everything.toJSON())
  })

  const good: TypeDefinitionJSON = { name: "t", version: 1, fields: { a: { kind: "register", of: "string" } } }
  const cases: [string, unknown, RegExp][] = [
    ["not an object", "task", /must be an object/],
    ["null", null, /must be an object/],
    ["bad name", { ...good, name: "Bad Name" }, /invalid type name "Bad Name"/],
    ["missing name", { fields: {} }, /invalid type name/],
    ["fields missing", { name: "t" }, /"fields" must be an object/],
    ["fields a list", { name: "t", fields: [] }, /"fields" must be an object/],
    ["unknown kind", { name: "t", fields: { a: { kind: "blob" } } }, /t\.a: unknown field kind "blob"/],
    ["register of what", { name: "t", fields: { a: { kind: "register", of: "date" } } }, /t\.a: a register's "of" must be/],
    ["field not an object", { name: "t", fields: { a: 3 } }, /t\.a: expected an object/],
    ["map without fields", { name: "t", fields: { m: { kind: "map" } } }, /t\.m: a map needs "fields"/],
    ["map fields a list", { name: "t", fields: { m: { kind: "map", fields: [] } } }, /t\.m: a map needs "fields"/],
    ["bad nested field", { name: "t", fields: { m: { kind: "map", fields: { x: { kind: "nope" } } } } }, /t\.m\.x: unknown field kind/],
    ["list of nothing", { name: "t", fields: { l: { kind: "list" } } }, /t\.l\[\]: expected an object/],
    ["record of nothing", { name: "t", fields: { r: { kind: "record", of: "x" } } }, /t\.r\.\*: expected an object/],
    ["counter default", { name: "t", fields: { c: { kind: "counter", default: "1" } } }, /counter's default must be a number/],
    ["text default", { name: "t", fields: { c: { kind: "text", default: 1 } } }, /text's default must be a string/],
    [
      "register default of the wrong kind",
      { name: "t", fields: { a: { kind: "register", of: "number", default: "x" } } },
      /type t: field a has a default that does not fit it \(expected a finite number, got text "x"\)/,
    ],
    [
      "values not strings",
      { name: "t", fields: { a: { kind: "register", of: "string", values: [1, 2] } } },
      /"values" must be a list of strings/,
    ],
    ["values on a number", { name: "t", fields: { a: { kind: "register", of: "number", values: ["1"] } } }, /"values"/],
    ["version a string", { ...good, version: "2" }, /version must be a positive integer, got "2"/],
    ["version zero", { ...good, version: 0 }, /version must be a positive integer/],
    ["$ field", { name: "t", fields: { $x: { kind: "text" } } }, /field name "\$x"/],
  ]
  for (const [what, json, message] of cases) {
    it(`refuses malformed JSON: ${what}`, () => {
      expect(() => typeFromJSON(json)).toThrow(TypeDefinitionError)
      expect(() => typeFromJSON(json)).toThrow(message)
    })
  }

  it("reads a single field with fieldFromJSON", () => {
    expect(fieldFromJSON({ kind: "list", of: { kind: "counter" }, optional: true }).toJSON()).toEqual({
      kind: "list",
      of: { kind: "counter" },
      optional: true,
    })
  })
})
