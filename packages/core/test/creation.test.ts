import * as A from "@automerge/automerge"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { isValidDocumentId, parseAutomergeUrl, stringifyAutomergeUrl, type DocumentId } from "@automerge/automerge-repo"
import { buildNewDocument, newDocument, newDocumentId, readFirstChange } from "../src/document/creation.js"
import { encodeFirstChange, sealChange } from "../src/document/changeEncoding.js"
import { newEnvelope, readEnvelope, type Envelope } from "../src/document/envelope.js"
import { isIntact } from "../src/database/StoredChunks.js"
import { defineType, f } from "../src/index.js"
import { openDb } from "./helpers.js"

const ACTOR = "0123456789abcdef0123456789abcdef" + "fedcba9876543210"
const MACHINE = ACTOR.slice(0, 32)

function envelope(data: Record<string, unknown>, createdAt = 1_796_000_000_000, deletedAt: number | null = null): Envelope {
  return {
    ...newEnvelope("task", MACHINE, createdAt, 1, data),
    deletedAt,
    creatorKey: new Uint8Array(32).fill(7),
    proof: new Uint8Array(64).fill(9),
  }
}

/** The document the change proxy makes for the same envelope: what creating a document wrote before. */
function throughProxy(root: Envelope, time: number, message?: string): A.Doc<Envelope> {
  return A.change(A.init<Envelope>({ actor: ACTOR as A.ActorId }), message ? { time, message } : { time }, d => {
    d.v = root.v
    d.type = root.type
    d.createdBy = root.createdBy
    d.createdAt = root.createdAt
    d.typeVersion = root.typeVersion
    d.deletedAt = root.deletedAt
    d.data = root.data
    d.creatorKey = root.creatorKey
    d.proof = root.proof
  })
}

const key = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_ -]{0,11}$/).filter(k => k !== "__proto__")
const scalar = fc.oneof(
  fc.constant(null),
  fc.constantFrom(0, -0, 1, -1),
  fc.boolean(),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter(n => !Number.isInteger(n)),
  fc.string({ maxLength: 20 }).map(s => new A.ImmutableString(s)),
  fc.uint8Array({ maxLength: 40 }),
  fc.integer({ min: -1000, max: 1000 }).map(n => new A.Counter(n)),
  fc.integer({ min: 0, max: 2 ** 42 }).map(n => new Date(n)),
)
const { data } = fc.letrec<{ data: Record<string, unknown> }>(tie => ({
  data: fc.dictionary(key, fc.oneof({ depthSize: "small" }, scalar, scalar, tie("data")), { maxKeys: 6, noNullPrototype: true }),
}))

describe("a new document's first change", () => {
  it("is, byte for byte, the change the change proxy made for the same envelope (so its hash is the same)", async () => {
    await fc.assert(
      fc.asyncProperty(
        data,
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
        async (d, time, message) => {
          const root = envelope(d)
          const made = newDocument(ACTOR, root, time, message)
          const proxy = throughProxy(root, time, message)
          expect(made.bytes).toEqual(A.getAllChanges(proxy)[0])
          expect([made.head]).toEqual(A.getHeads(proxy))
          expect(await isIntact(made.bytes)).toBe(true)
          const loaded = A.load<Envelope>(made.bytes)
          expect(A.toJS(loaded)).toEqual(A.toJS(proxy))
          expect(readEnvelope(loaded)).toEqual(readEnvelope(proxy))
        },
      ),
      { numRuns: 200 },
    )
  }, 30_000)

  it("falls back to Automerge for what it does not encode (text, lists), with the same result as the proxy", async () => {
    for (const d of [{ body: "some text" }, { tags: [new A.ImmutableString("a"), 2] }, { clé: 1 }]) {
      const root = envelope(d, 1_796_000_000_000, 1_796_000_000_500)
      const made = newDocument(ACTOR, root, 1_796_000_000_001)
      const proxy = throughProxy(root, 1_796_000_000_001)
      expect(made.bytes).toEqual(A.save(proxy))
      expect([made.head]).toEqual(A.getHeads(proxy))
      expect(buildNewDocument(ACTOR, root, 1_796_000_000_001).bytes).toEqual(A.save(proxy))
    }
  })

  it("refuses a value Automerge cannot store, as the proxy does", async () => {
    for (const bad of [{ a: undefined }, { a: new Map() }, { a: () => 1 }, { a: { b: Symbol("x") } }]) {
      expect(() => newDocument(ACTOR, envelope(bad as Record<string, unknown>), 1)).toThrow(RangeError)
    }
  })
})

/** The root Automerge loads from `bytes`, as plain properties (what readFirstChange must give). */
function loadedRoot(bytes: Uint8Array): Record<string, unknown> {
  return { ...A.load<Envelope>(bytes) }
}

describe("reading a first change back without Automerge (readFirstChange)", () => {
  it("reads what newDocument wrote as Automerge loads it: the same root, values and head", async () => {
    await fc.assert(
      fc.property(
        data,
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
        (d, time, message) => {
          const made = newDocument(ACTOR, envelope(d), time, message)
          const read = readFirstChange(made.bytes)
          // 2^53 − 1 Automerge gives as a bigint: such a change is left to Automerge (see the next test).
          if (JSON.stringify(d).includes(String(Number.MAX_SAFE_INTEGER))) return expect(read).toBeUndefined()
          expect(read).toBeDefined()
          expect(read!.root).toEqual(loadedRoot(made.bytes))
          expect([read!.head]).toEqual(A.getHeads(A.load(made.bytes)))
          expect(read!.actor).toBe(ACTOR)
          expect(read!.time).toBe(time)
        },
      ),
      { numRuns: 200 },
    )
  }, 30_000)

  it("leaves to Automerge an integer it would give as a bigint (2^53 − 1), and reads the one below it", () => {
    for (const [n, read] of [
      [Number.MAX_SAFE_INTEGER, false],
      [Number.MAX_SAFE_INTEGER - 1, true],
      [-Number.MAX_SAFE_INTEGER, true],
    ] as const) {
      const made = newDocument(ACTOR, envelope({ n }), 1)
      expect(readFirstChange(made.bytes) !== undefined).toBe(read)
      if (read) expect(readFirstChange(made.bytes)!.root).toEqual(loadedRoot(made.bytes))
    }
  })

  it("any byte changed, its checksum made good again: not read at all, or read exactly as Automerge loads it", async () => {
    await fc.assert(
      fc.property(data, fc.nat(), fc.integer({ min: 0, max: 255 }), (d, at, value) => {
        const bytes = newDocument(ACTOR, envelope(d), 1_796_000_000_001).bytes.slice()
        bytes[8 + (at % (bytes.byteLength - 8))] = value
        sealChange(bytes)
        const read = readFirstChange(bytes)
        if (!read) return
        expect(read.root).toEqual(loadedRoot(bytes))
        expect([read.head]).toEqual(A.getHeads(A.load(bytes)))
      }),
      { numRuns: 500 },
    )
  }, 30_000)

  it("does not read bytes cut short, lengthened, or with a bad checksum", () => {
    const bytes = newDocument(ACTOR, envelope({ title: new A.ImmutableString("t"), done: false }), 1).bytes
    expect(readFirstChange(bytes)).toBeDefined()
    for (let cut = 0; cut < bytes.byteLength; cut++) expect(readFirstChange(bytes.subarray(0, cut))).toBeUndefined()
    expect(readFirstChange(new Uint8Array([...bytes, 0]))).toBeUndefined()
    const badSum = bytes.slice()
    badSum[4]! ^= 1
    expect(readFirstChange(badSum)).toBeUndefined()
  })

  it("leaves to Automerge every change that is not the one newDocument writes for its root", () => {
    const root = envelope({ title: new A.ImmutableString("t"), done: false })
    const change = (fn: (d: Envelope) => void) =>
      A.getAllChanges(A.change(A.init<Envelope>({ actor: ACTOR as A.ActorId }), { time: 1 }, fn))[0]!
    const all = (d: Envelope, order: (keyof Envelope)[], data = root.data) => {
      for (const key of order) (d as any)[key] = key === "data" ? data : root[key]
    }
    const keys: (keyof Envelope)[] = ["v", "type", "createdBy", "createdAt", "typeVersion", "deletedAt", "data", "creatorKey", "proof"]
    // The canonical one is read (the control for the cases below).
    expect(readFirstChange(change(d => all(d, keys)))).toBeDefined()
    const notRead = {
      // Same root, other operation order: `type` is no longer operation 2, which readEnvelope refuses.
      "keys in another order": change(d => all(d, ["type", ...keys.filter(k => k !== "type")])),
      "an extra root key": change(d => {
        all(d, keys)
        ;(d as any).extra = 1
      }),
      "a key set twice in the change": change(d => {
        all(d, keys)
        d.type = new A.ImmutableString("note")
      }),
      "a key deleted in the change": change(d => {
        all(d, keys)
        delete (d as any).deletedAt
      }),
      "a list in the data": change(d => all(d, keys, { tags: [1] })),
      "text in the data": change(d => all(d, keys, { body: "text" })),
      "a whole saved document": A.save(A.load(change(d => all(d, keys)))),
    }
    for (const [what, bytes] of Object.entries(notRead)) expect(readFirstChange(bytes), what).toBeUndefined()
    // Two operations on one key, neither replacing the other: Automerge holds both values (a conflict).
    const ops = [
      { obj: 0, key: "v", value: { type: "int" as const, value: 1 } },
      { obj: 0, key: "type", value: { type: "str" as const, value: "task" } },
      { obj: 0, key: "type", value: { type: "str" as const, value: "note" } },
    ]
    const twice = encodeFirstChange({ actor: fromHexActor(), time: 1, message: undefined, ops })
    sealChange(twice)
    expect(A.getConflicts(A.load(twice), "type")).toBeDefined()
    expect(readFirstChange(twice)).toBeUndefined()
  })
})

function fromHexActor(): Uint8Array {
  return Uint8Array.from(ACTOR.match(/../g)!.map(h => parseInt(h, 16)))
}

describe("db.create's result", () => {
  const Everything = defineType("everything", {
    fields: {
      title: f.string(),
      zeta: f.number(),
      alpha: f.boolean().default(true),
      notes: f.text().default(""),
      votes: f.counter(),
      tags: f.list(f.string()),
      links: f.record(f.number()),
      inner: f.map({ b: f.string().optional(), a: f.number().default(-1) }),
      maybe: f.null().optional(),
    },
  })

  it("is the document as reading it back gives it (same data, keys in the same order, same times)", async () => {
    const { db, storage, machine } = await openDb({ types: [Everything] })
    const made = [
      await db.create(Everything, { title: "t", zeta: 0, tags: ["x", "y"], links: { q: 2, b: -0.5 }, inner: { b: "s", a: 3 } }),
      await db.create(Everything, {
        title: "",
        zeta: -3.25,
        notes: "some text",
        votes: 4,
        alpha: false,
        tags: [],
        links: {},
        inner: { a: -4 },
        maybe: null,
      }),
      await db.create("everything", { title: "u", zeta: 1 }),
    ]
    const again = await openDb({ storage, machine, types: [Everything] })
    for (const doc of made) {
      const read = await again.db.get(Everything, doc.id)
      expect(doc).toEqual(read)
      expect(JSON.stringify(doc)).toBe(JSON.stringify(read))
    }
  })
})

describe("newDocumentId", () => {
  it("makes ids automerge-repo reads as its own, each new", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newDocumentId()))
    expect(ids.size).toBe(1000)
    for (const id of [...ids].slice(0, 50)) {
      expect(isValidDocumentId(id)).toBe(true)
      expect(parseAutomergeUrl(stringifyAutomergeUrl(id as DocumentId)).documentId).toBe(id)
    }
  })
})
