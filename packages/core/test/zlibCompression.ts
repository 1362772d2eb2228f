import { deflateRawSync, inflateRawSync } from "node:zlib"
import type { FrameCompression } from "../src/network/compression.js"

/** Raw deflate with zlib, as the Node runtime compresses frames; records the limit every inflate was given. */
export function zlibCompression(): { codec: FrameCompression; limits: number[] } {
  const limits: number[] = []
  const codec: FrameCompression = {
    name: "deflate-raw",
    compress: bytes => deflateRawSync(bytes),
    inflate: (bytes, maxBytes) => {
      limits.push(maxBytes)
      return inflateRawSync(bytes, { maxOutputLength: maxBytes })
    },
  }
  return { codec, limits }
}
