import type { FrameLimits } from "./cborLimits.js"
import { FrameError } from "./errors.js"
import { decodeFrame, encodeFrame, type Frame } from "./frames.js"

/**
 * A way to compress frames, offered in the hello and chosen in the welcome
 * (see frames.ts). Batches of documents are most of what replication moves,
 * and documents made by one machine share their actor, creator, key and
 * field names: deflated together they shrink to about a quarter. Core ships
 * no codec (it runs anywhere); a runtime gives one to its adapters, and two
 * peers compress only when both offer the same one.
 */
export interface FrameCompression {
  /** The name both sides must agree on, e.g. "deflate-raw". */
  readonly name: string
  /** Compress an encoded frame. */
  compress(bytes: Uint8Array): Uint8Array
  /**
   * Inflate what `compress` made, refusing to produce more than `maxBytes`:
   * a few kilobytes of deflate can declare gigabytes, so the limit must stop
   * the inflating, not be checked after it. Throws past the limit or on
   * bytes that are not compressed data.
   */
  inflate(bytes: Uint8Array, maxBytes: number): Uint8Array
}

/** Frames smaller than this go as they are: compressing a ping or a small sync message saves nothing worth its CPU. */
export const COMPRESS_FROM_BYTES = 1024

/** The compression two peers agree on: ours, when the other side offered it (by name). */
export function agreedCompression(
  ours: FrameCompression | undefined,
  offered: readonly string[] | undefined,
): FrameCompression | undefined {
  return ours && offered?.includes(ours.name) ? ours : undefined
}

/** An encoded frame as it goes on the wire: compressed when that is agreed, it is large enough, and it gets smaller. */
export function packFrame(encoded: Uint8Array, compression: FrameCompression | undefined): Uint8Array {
  if (!compression || encoded.byteLength < COMPRESS_FROM_BYTES) return encoded
  const packed = encodeFrame({ kind: "compressed", bytes: compression.compress(encoded) })
  return packed.byteLength < encoded.byteLength ? packed : encoded
}

/**
 * A frame from the wire, inflated if it came compressed. The inflated frame
 * is held to the same limits as any other (bytes, items, depth), and the
 * byte limit stops the inflating itself. Throws {@link FrameError}.
 */
export function unpackFrame(bytes: Uint8Array, limits: FrameLimits, compression: FrameCompression | undefined): Frame {
  const frame = decodeFrame(bytes, limits)
  if (frame.kind !== "compressed") return frame
  if (!compression) throw new FrameError("a compressed frame, but no compression was agreed in the handshake")
  let inflated: Uint8Array
  try {
    inflated = compression.inflate(frame.bytes, limits.maxFrameBytes)
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    throw new FrameError(`a compressed frame does not inflate within the limit of ${limits.maxFrameBytes} bytes (${why})`)
  }
  const inner = decodeFrame(inflated, limits)
  if (inner.kind === "compressed") throw new FrameError("a compressed frame inside a compressed frame")
  return inner
}
