import { deflateRawSync } from "node:zlib"
import { Encoder } from "cbor-x"
import { describe, expect, it } from "vitest"
import { zlibCompression as zlib } from "../../test/zlibCompression.js"
import { COMPRESS_FROM_BYTES, packFrame, unpackFrame } from "./compression.js"
import { decodeFrame, encodeFrame, HANDSHAKE_LIMITS, openLimits, type Frame } from "./frames.js"

const cbor = new Encoder({ tagUint8Array: false, useRecords: false })

/** A batch of documents as replication sends it: alike in everything but their ids and a few bytes. */
function docsFrame(count: number): Frame {
  const docs = Array.from({ length: count }, (_, i) => ({ id: `doc-${i}`, bytes: new Uint8Array(300).fill(i % 7) }))
  return { kind: "control", message: { t: "docs", docs, refused: [] } }
}

describe("frame compression", () => {
  it("compresses a large frame, which arrives as it was sent", () => {
    const { codec } = zlib()
    const frame = docsFrame(100)
    const encoded = encodeFrame(frame)
    const wire = packFrame(encoded, codec)
    expect(wire.byteLength).toBeLessThan(encoded.byteLength / 4)
    expect(decodeFrame(wire).kind).toBe("compressed")
    expect(unpackFrame(wire, openLimits(1 << 20), codec)).toEqual(frame)
  })

  it("sends small frames, and frames that would not shrink, as they are", () => {
    const { codec } = zlib()
    const small = encodeFrame({ kind: "control", message: { t: "pulled", seq: 3 } })
    expect(small.byteLength).toBeLessThan(COMPRESS_FROM_BYTES)
    expect(packFrame(small, codec)).toBe(small)
    const random = encodeFrame({ kind: "control", message: crypto.getRandomValues(new Uint8Array(4096)) })
    expect(packFrame(random, codec)).toBe(random)
    expect(packFrame(encodeFrame(docsFrame(100)), undefined).byteLength).toBe(encodeFrame(docsFrame(100)).byteLength)
  })

  it("refuses a compressed frame when no compression was agreed", () => {
    const wire = packFrame(encodeFrame(docsFrame(100)), zlib().codec)
    expect(() => unpackFrame(wire, openLimits(1 << 20), undefined)).toThrow(/no compression was agreed/)
  })

  it("stops inflating a bomb at the frame limit", () => {
    // 64 MiB of zeros deflate to about 64 KB: a peer may send it within any byte limit.
    const bomb = encodeFrame({ kind: "compressed", bytes: deflateRawSync(new Uint8Array(64 * 1024 * 1024)) })
    expect(bomb.byteLength).toBeLessThan(100_000)
    const { codec, limits } = zlib()
    const started = performance.now()
    expect(() => unpackFrame(bomb, openLimits(1 << 20), codec)).toThrow(/does not inflate within the limit of 1048576 bytes/)
    expect(limits).toEqual([1 << 20])
    // Inflating all of it takes far longer than stopping at 1 MiB; generous, for a loaded machine.
    expect(performance.now() - started).toBeLessThan(2000)
  })

  it("holds the inflated frame to the item limit, and refuses nesting and garbage", () => {
    const { codec } = zlib()
    const items = cbor.encode({ kind: "control", message: new Array(300_000).fill(0) })
    const manyItems = encodeFrame({ kind: "compressed", bytes: deflateRawSync(items) })
    expect(() => unpackFrame(manyItems, openLimits(8 << 20), codec)).toThrow(/more than 200000 items/)
    const inner = packFrame(encodeFrame(docsFrame(100)), codec)
    const nested = encodeFrame({ kind: "compressed", bytes: deflateRawSync(inner) })
    expect(() => unpackFrame(nested, openLimits(1 << 20), codec)).toThrow(/inside a compressed frame/)
    const garbage = encodeFrame({ kind: "compressed", bytes: new Uint8Array([1, 2, 3, 4, 5]) })
    expect(() => unpackFrame(garbage, openLimits(1 << 20), codec)).toThrow(/does not inflate/)
    const text = cbor.encode({ kind: "compressed", bytes: "text" })
    expect(() => unpackFrame(text, HANDSHAKE_LIMITS, codec)).toThrow(/bytes must be a byte string/)
  })
})
