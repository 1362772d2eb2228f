import { Decoder, Encoder } from "cbor-x"
import { FrameError } from "./errors.js"
import { checkCborLimits, type FrameLimits } from "./cborLimits.js"
import { checkFrame } from "./frameShape.js"
import type { Frame } from "./frameTypes.js"

/**
 * The wire protocol of Cairn's WebSocket transport: every WebSocket message
 * is one CBOR-encoded frame. A client opens with `hello`; the server may
 * exchange `auth` frames with it, then answers `welcome` or `refuse`. After
 * the welcome both sides send `repo` (automerge-repo's own messages),
 * `control` (Cairn's replication protocol) and `ping`/`pong`.
 */
export const PROTOCOL_VERSION = 1

/** Frames larger than this close the connection unless an adapter is given another limit. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024

/**
 * Until the handshake is done a connection has proved nothing, so it gets
 * only what a hello, a welcome or an auth round needs: at most 64 KiB of
 * 2,048 values. Anything larger closes it before it is decoded.
 */
export const HANDSHAKE_LIMITS: FrameLimits = { maxFrameBytes: 64 * 1024, maxItems: 2048, maxDepth: 8 }

/**
 * After the handshake: the adapter's byte limit, and at most this many
 * items. The largest legitimate frames (an offer of 2,000 entries, a batch
 * of 250 documents) hold a few tens of thousands.
 */
export function openLimits(maxFrameBytes: number): FrameLimits {
  return { maxFrameBytes, maxItems: 200_000, maxDepth: 32 }
}

export type {
  PeerInfo,
  HelloInfo,
  WelcomeInfo,
  HelloFrame,
  WelcomeFrame,
  RefuseFrame,
  AuthFrame,
  RepoFrame,
  ControlFrame,
  PingFrame,
  PongFrame,
  Frame,
} from "./frameTypes.js"

// Same settings as automerge-repo's own CBOR helper, so a Uint8Array goes on
// the wire as a plain CBOR byte string and comes back as a Uint8Array.
const encoder = new Encoder({ tagUint8Array: false, useRecords: false })
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true })

/** Encode a frame for the wire. Throws if `frame` holds something CBOR cannot carry. */
export function encodeFrame(frame: Frame): Uint8Array {
  return encoder.encode(frame) as Uint8Array
}

/**
 * Decode and validate one frame from the wire, within `limits` (checked on
 * the bytes before decoding). Throws {@link FrameError} for anything else
 * (the caller closes the connection), never another error.
 */
export function decodeFrame(bytes: Uint8Array, limits: FrameLimits = openLimits(DEFAULT_MAX_FRAME_BYTES)): Frame {
  if (bytes.byteLength > limits.maxFrameBytes) {
    throw new FrameError(`frame of ${bytes.byteLength} bytes exceeds the limit of ${limits.maxFrameBytes}`)
  }
  if (bytes.byteLength === 0) throw new FrameError("empty frame")
  checkCborLimits(bytes, limits)
  // A plain Uint8Array view (not a Node Buffer) so that the byte strings
  // inside decode as plain Uint8Arrays too.
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let value: unknown
  try {
    value = decoder.decode(view)
  } catch (error) {
    throw new FrameError(`invalid CBOR: ${error instanceof Error ? error.message : String(error)}`)
  }
  return checkFrame(value)
}
