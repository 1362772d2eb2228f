import { deflateRawSync, inflateRawSync } from "node:zlib"
import type { FrameCompression } from "@cairn/core/network"

/**
 * Raw deflate with Node's zlib, for Cairn's frames (see FrameCompression).
 * Synchronous on purpose: frames must leave and arrive in order, and a batch
 * of 250 small documents (about 110 KB) deflates in one to three
 * milliseconds and inflates in under one.
 */
export const deflateCompression: FrameCompression = {
  name: "deflate-raw",
  compress: bytes => deflateRawSync(bytes),
  // zlib stops as soon as the output would pass maxOutputLength, so a bomb costs at most the limit.
  inflate: (bytes, maxBytes) => inflateRawSync(bytes, { maxOutputLength: Math.max(1, maxBytes) }),
}
