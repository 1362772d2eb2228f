import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { CatalogEntry } from "../src/catalog/Catalog.js"
import { decodeLog, decodeSnapshot, encodeLog, encodeSnapshot, FORMAT } from "../src/catalog/catalogRecords.js"

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map(b => Buffer.from(b).toString("hex"))
const time = fc.integer({ min: 0, max: 2 ** 46 })
const entry: fc.Arbitrary<CatalogEntry> = fc.record(
  {
    id: fc.string({ minLength: 1, maxLength: 30 }),
    type: fc.constantFrom("task", "note", "budget.transfer"),
    createdAt: time,
    createdBy: fc.oneof(hex(16), fc.constant("")),
    modifiedAt: time,
    deletedAt: fc.option(time, { nil: null }),
    heads: fc.oneof(fc.array(hex(32), { maxLength: 3 }), fc.array(fc.string(), { minLength: 1, maxLength: 2 })),
    purged: fc.constant(true as const),
    quarantined: fc.string(),
    seq: fc.integer({ min: 1, max: 2 ** 40 }),
  },
  { requiredKeys: ["id", "type", "createdAt", "createdBy", "modifiedAt", "deletedAt", "heads"] },
)

describe("catalog records", () => {
  it("read back every entry as it was written, in the compact format", () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), fc.integer({ min: 0, max: 2 ** 40 }), (entries, seq) => {
        expect(decodeLog(encodeLog({ seq, entries }))).toEqual({ seq, entries })
        expect(decodeSnapshot(encodeSnapshot({ format: FORMAT, epoch: "e1", seq, entries }))).toEqual({
          format: FORMAT,
          epoch: "e1",
          seq,
          entries,
        })
      }),
    )
  })

  it("still read the JSON records written before, and refuse bytes that are neither", () => {
    const entries: CatalogEntry[] = [
      { id: "a", type: "task", createdAt: 1, createdBy: "m", modifiedAt: 2, deletedAt: null, heads: ["ab".repeat(32)], seq: 3 },
    ]
    const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))
    expect(decodeSnapshot(json({ format: 1, epoch: "e", seq: 4, entries })).entries).toEqual(entries)
    expect(decodeLog(json({ seq: 5, entries }))).toEqual({ seq: 5, entries })
    expect(() => decodeSnapshot(json({ format: 7, entries }))).toThrow()
    expect(() => decodeLog(new Uint8Array([0xff, 0x00]))).toThrow()
    expect(() => decodeSnapshot(new Uint8Array([0xa1, 0x61, 0x78, 0x01]))).toThrow()
  })

  it("take about a third of the JSON's bytes for the entries of new documents", () => {
    const entries: CatalogEntry[] = Array.from({ length: 1000 }, (_, i) => ({
      id: `3rRb6VJu1eofdRTwcc94WM${String(i).padStart(6, "0")}`,
      type: "task",
      createdAt: 1_796_178_216_262 + i,
      createdBy: "aad0a7ea99e67673d1a2d1d5a0c9d9bb",
      modifiedAt: 1_796_178_216_262 + i,
      deletedAt: null,
      heads: ["3d5d3c0c8e13d66fdef1a956acc5465f5502c1d47c7ab1bdac981a23a64725bc"],
      seq: i + 1,
    }))
    const compact = encodeLog({ seq: 1, entries }).byteLength
    const json = new TextEncoder().encode(JSON.stringify({ seq: 1, entries })).byteLength
    expect(compact).toBeLessThan(json / 2.5)
  })
})
