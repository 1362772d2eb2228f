import { Decoder, Encoder } from "cbor-x"
import type { Message, PeerId, PeerMetadata } from "@automerge/automerge-repo"
import { FrameError } from "./errors.js"
import { checkFrame } from "./frameShape.js"

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
 * What one side tells the other about itself in `hello` or `welcome`: for
 * the replication layer, for example, the types it wants and its machine id.
 * It must be CBOR-encodable. It arrives from the network, so the receiver
 * validates its fields before trusting them.
 */
export type PeerInfo = { readonly [key: string]: unknown }

/** The client's info, sent in `hello`. */
export type HelloInfo = PeerInfo

/** The server's info, sent in `welcome`. */
export type WelcomeInfo = PeerInfo

export interface HelloFrame {
  readonly kind: "hello"
  readonly protocol: number
  readonly peerId: PeerId
  readonly peerMetadata: PeerMetadata
  readonly info: HelloInfo
}

export interface WelcomeFrame {
  readonly kind: "welcome"
  readonly peerId: PeerId
  readonly peerMetadata: PeerMetadata
  readonly info: WelcomeInfo
}

/** Either side says why it will not go on; the sender closes right after. */
export interface RefuseFrame {
  readonly kind: "refuse"
  readonly reason: string
}

/** One round of an authentication exchange during the handshake (see `AuthExchange`). */
export interface AuthFrame {
  readonly kind: "auth"
  readonly message: unknown
}

/** An automerge-repo message, carried unchanged. */
export interface RepoFrame {
  readonly kind: "repo"
  readonly message: Message
}

/** A message of Cairn's replication layer; opaque to the transport. */
export interface ControlFrame {
  readonly kind: "control"
  readonly message: unknown
}

export interface PingFrame {
  readonly kind: "ping"
}

export interface PongFrame {
  readonly kind: "pong"
}

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | RefuseFrame
  | AuthFrame
  | RepoFrame
  | ControlFrame
  | PingFrame
  | PongFrame

// Same settings as automerge-repo's own CBOR helper, so a Uint8Array goes on
// the wire as a plain CBOR byte string and comes back as a Uint8Array.
const encoder = new Encoder({ tagUint8Array: false, useRecords: false })
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true })

/** Encode a frame for the wire. Throws if `frame` holds something CBOR cannot carry. */
export function encodeFrame(frame: Frame): Uint8Array {
  return encoder.encode(frame) as Uint8Array
}

/**
 * Decode and validate one frame from the wire. Throws {@link FrameError} for
 * anything else (the caller closes the connection), never another error.
 */
export function decodeFrame(bytes: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Frame {
  if (bytes.byteLength > maxFrameBytes) {
    throw new FrameError(`frame of ${bytes.byteLength} bytes exceeds the limit of ${maxFrameBytes}`)
  }
  if (bytes.byteLength === 0) throw new FrameError("empty frame")
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
