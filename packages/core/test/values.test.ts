import { Counter, ImmutableString } from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { defineType, f, fromTagged, toPlain, toTagged, untagForField, ValidationError } from "../src/index.js"

/** A stored value with every kind, as Automerge holds it. */
const stored = () => ({
  title: new ImmutableString("Buy milk"),
  body: "collaborative",
  votes: new Counter(3),
  done: false,
  size: 1.5,
  nothing: null,
  tags: [new ImmutableString("a"), "text item", new Counter(1)],
  meta: { owner: new ImmutableString("ann"), nested: { deep: "x" } },
})

describe("toPlain", () => {
  it("gives the app form: registers and text as strings, counters as numbers", () => {
    expect(toPlain(stored())).toEqual({
      title: "Buy milk",
      body: "collaborative",
      votes: 3,
      done: false,
      size: 1.5,
      nothing: null,
      tags: ["a", "text item", 1],
      meta: { owner: "ann", nested: { deep: "x" } },
    })
  })

  it("orders map keys the same way whatever order Automerge gives them in", () => {
    expect(Object.keys(toPlain({ b: 1, a: 2, c: { z: 1, y: 2 } }) as object)).toEqual(["a", "b", "c"])
    expect((toTagged({ z: 1, y: { $x: 1 } }) as { y: object }).y).toEqual({ $map: { $x: 1 } })
    expect(JSON.stringify(toTagged({ b: { d: 1, c: 2 }, a: 0 }))).toBe('{"a":0,"b":{"c":2,"d":1}}')
  })
})

describe("tagged JSON", () => {
  it("keeps every kind: a string is a register, text and counters are tagged", () => {
    const tagged = toTagged(stored())
    expect(tagged).toEqual({
      title: "Buy milk",
      body: { $text: "collaborative" },
      votes: { $counter: 3 },
      done: false,
      size: 1.5,
      nothing: null,
      tags: ["a", { $text: "text item" }, { $counter: 1 }],
      meta: { owner: "ann", nested: { deep: { $text: "x" } } },
    })
    // Through JSON text and back to the same stored kinds.
    const back = fromTagged(JSON.parse(JSON.stringify(tagged)), []) as ReturnType<typeof stored>
    expect(back.title).toBeInstanceOf(ImmutableString)
    expect(back.body).toBe("collaborative")
    expect(back.votes).toBeInstanceOf(Counter)
    expect((back.votes as Counter).value).toBe(3)
    expect(back.tags[0]).toBeInstanceOf(ImmutableString)
    expect(back.tags[1]).toBe("text item")
    expect(back.tags[2]).toBeInstanceOf(Counter)
    expect(toTagged(back)).toEqual(tagged)
  })

  it("wraps a map whose only key looks like a tag, so it reads back as a map", () => {
    for (const key of ["$text", "$counter", "$map", "$weird"]) {
      const value = { m: { [key]: new ImmutableString("not a tag") } }
      const tagged = toTagged(value)
      expect(tagged).toEqual({ m: { $map: { [key]: "not a tag" } } })
      const back = fromTagged(JSON.parse(JSON.stringify(tagged)), []) as { m: Record<string, unknown> }
      expect(Object.keys(back.m)).toEqual([key])
      expect(back.m[key]).toBeInstanceOf(ImmutableString)
    }
  })

  it("refuses an unknown tag, naming it and where it is", () => {
    for (const value of [{ title: { $weird: 1 } }, { list: [{ $Text: "x" }] }, { a: { b: { $count: 2 } } }]) {
      expect(() => fromTagged(value, [])).toThrow(ValidationError)
    }
    expect(() => fromTagged({ title: { $weird: 1 } }, [])).toThrow(
      'unknown tag "$weird": tagged JSON knows "$text", "$counter" and "$map" (at title)',
    )
    expect(() => fromTagged({ list: [{ $Text: "x" }] }, [])).toThrow(/unknown tag "\$Text".*\(at list\.0\)/)
    expect(() =>
      untagForField({ kind: "map", fields: { title: { kind: "register", of: "string" } } }, { title: { $weird: 1 } }, []),
    ).toThrow(/unknown tag "\$weird".*\(at title\)/)
    // Explicitly a map, a key like that is a key; and so is one beside other keys.
    expect(toTagged(fromTagged({ a: { $map: { $weird: 1 } }, b: { $weird: 1, other: 2 } }, []))).toEqual({
      a: { $map: { $weird: 1 } },
      b: { $weird: 1, other: 2 },
    })
  })

  it("refuses values it cannot store, naming where", () => {
    const cases: [unknown, RegExp][] = [
      [{ a: { $counter: "3" } }, /"\$counter" must hold a number \(at a\)/],
      [{ a: { $counter: Infinity } }, /"\$counter" must hold a number/],
      [{ a: { $text: 3 } }, /"\$text" must hold a string \(at a\)/],
      [{ a: { $map: [1] } }, /"\$map" must hold an object \(at a\)/],
      [{ a: [1, Number.NaN] }, /expected a finite number, got NaN \(at a\.1\)/],
      [{ a: () => 1 }, /cannot store function \(at a\)/],
      [{ a: undefined }, /cannot store undefined \(at a\)/],
    ]
    for (const [value, message] of cases) {
      expect(() => fromTagged(value, [])).toThrow(ValidationError)
      expect(() => fromTagged(value, [])).toThrow(message)
    }
  })
})

describe("untagForField", () => {
  const T = defineType("t", {
    fields: {
      body: f.text(),
      votes: f.counter(),
      title: f.string(),
      meta: f.map({ note: f.text() }),
      scores: f.record(f.counter()),
      lines: f.list(f.text()),
    },
  })
  const field = { kind: "map" as const, fields: T.toJSON().fields }

  it("accepts tags that match the declared kind and plain values", () => {
    expect(
      untagForField(
        field,
        {
          body: { $text: "b" },
          votes: { $counter: 2 },
          title: "t",
          meta: { note: { $text: "n" } },
          scores: { a: { $counter: 1 } },
          lines: [{ $text: "l" }, "m"],
        },
        [],
      ),
    ).toEqual({ body: "b", votes: 2, title: "t", meta: { note: "n" }, scores: { a: 1 }, lines: ["l", "m"] })
  })

  it("refuses a tag given for another kind", () => {
    expect(() => untagForField(field, { title: { $text: "x" } }, [])).toThrow(/"\$text" given for a register field \(at title\)/)
    expect(() => untagForField(field, { body: { $counter: 1 } }, [])).toThrow(/"\$counter" given for a text field \(at body\)/)
  })
})
