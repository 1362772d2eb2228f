import { Encoder } from "cbor-x"
import { describe, expect, it } from "vitest"
import { checkCborLimits } from "./cborLimits.js"
import { FrameError } from "./errors.js"

const cbor = new Encoder({ tagUint8Array: false, useRecords: false })
const generous = { maxFrameBytes: 1 << 30, maxItems: 1_000_000, maxDepth: 64 }

describe("checkCborLimits", () => {
  it("passes what our encoder writes, and counts every item", () => {
    const values = [
      0,
      -1,
      2 ** 40,
      1.5,
      "text",
      new Uint8Array([1, 2]),
      [1, [2, [3]]],
      { a: { b: [null, true, false] } },
      { kind: "control", message: { t: "docs", docs: [{ id: "x", bytes: new Uint8Array(300) }] } },
    ]
    for (const value of values) expect(() => checkCborLimits(cbor.encode(value), generous)).not.toThrow()
    // A map (1) of two keys (2), a number (1) and an array (1) of three (3): 8 items.
    const eight = cbor.encode({ a: 1, b: [1, 2, 3] })
    expect(() => checkCborLimits(eight, { ...generous, maxItems: 8 })).not.toThrow()
    expect(() => checkCborLimits(eight, { ...generous, maxItems: 7 })).toThrow(/more than 7 items/)
  })

  it("refuses a declared count the bytes cannot hold, before anything is built", () => {
    const lie = new Uint8Array([0x9a, 0x03, 0x93, 0x87, 0x00, 0xa0, 0xa0]) // an array of 60 million, then two maps
    expect(() => checkCborLimits(lie, generous)).toThrow(/declares 60000000 items in 2 bytes/)
  })

  it("refuses nesting past the limit, tags, truncation and trailing bytes", () => {
    const deep = new Uint8Array([...Array(10).fill(0x81), 0x00])
    expect(() => checkCborLimits(deep, { ...generous, maxDepth: 9 })).toThrow(/deeper than 9/)
    expect(() => checkCborLimits(deep, { ...generous, maxDepth: 10 })).not.toThrow()
    expect(() => checkCborLimits(new Uint8Array([0xc1, 0x00]), generous)).toThrow(/tags are not accepted/)
    expect(() => checkCborLimits(new Uint8Array([0x82, 0x01]), generous)).toThrow(FrameError)
    expect(() => checkCborLimits(new Uint8Array([0x01, 0x02]), generous)).toThrow(/1 bytes after/)
    expect(() => checkCborLimits(new Uint8Array([0x5a, 0xff, 0xff, 0xff, 0xff]), generous)).toThrow(/truncated/)
  })

  it("walks indefinite-length containers and strings to their breaks", () => {
    expect(() => checkCborLimits(new Uint8Array([0x9f, 0x01, 0xbf, 0x61, 0x61, 0x02, 0xff, 0xff]), generous)).not.toThrow()
    expect(() => checkCborLimits(new Uint8Array([0x5f, 0x41, 0x00, 0x41, 0x01, 0xff]), generous)).not.toThrow()
    expect(() => checkCborLimits(new Uint8Array([0x9f, 0x01]), generous)).toThrow(/truncated/)
    expect(() => checkCborLimits(new Uint8Array([0xff]), generous)).toThrow(/unexpected break/)
  })

  it("throws nothing but FrameError on random bytes", () => {
    let seed = 7
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let i = 0; i < 5000; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 48) }, () => Math.floor(random() * 256))
      try {
        checkCborLimits(bytes, { maxFrameBytes: 1 << 20, maxItems: 100, maxDepth: 8 })
      } catch (error) {
        expect(error).toBeInstanceOf(FrameError)
      }
    }
  })
})
