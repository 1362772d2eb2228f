import * as zlib from "node:zlib"
import { describe, expect, it } from "vitest"
import { crc32, crc32Portable } from "./crc32.js"

describe("crc32", () => {
  it("gives the standard check value for '123456789'", () => {
    const input = new TextEncoder().encode("123456789")
    expect(crc32(input)).toBe(0xcbf43926)
    expect(crc32Portable(input)).toBe(0xcbf43926)
  })

  // zlib.crc32 arrived in Node 20.15; on older releases only the portable version runs.
  it.skipIf(typeof zlib.crc32 !== "function")("agrees with zlib for every length around the 8-byte steps, and for empty input", () => {
    const data = new Uint8Array(10_000).map((_, i) => (i * 2654435761) >>> 24)
    for (const length of [0, 1, 7, 8, 9, 15, 16, 17, 1000, 10_000]) {
      const slice = data.subarray(3, 3 + length)
      expect(crc32Portable(slice)).toBe(zlib.crc32(slice))
      expect(crc32(slice)).toBe(zlib.crc32(slice))
      // Continued over two parts, the CRC of the whole.
      const cut = length >> 1
      expect(crc32Portable(slice.subarray(cut), crc32Portable(slice.subarray(0, cut)))).toBe(zlib.crc32(slice))
      expect(crc32(slice.subarray(cut), crc32(slice.subarray(0, cut)))).toBe(zlib.crc32(slice))
    }
  })
})
