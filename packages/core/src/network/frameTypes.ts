/** The frames of the WebSocket transport (see frames.ts). */
import type { Message, PeerId, PeerMetadata } from "@automerge/automerge-repo"

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
  /** The frame compressions the client can use, by name (see FrameCompression); absent from older clients. */
  readonly compression?: readonly string[]
}

export interface WelcomeFrame {
  readonly kind: "welcome"
  readonly peerId: PeerId
  readonly peerMetadata: PeerMetadata
  readonly info: WelcomeInfo
  /** The one of the client's compressions both sides use from now on; absent: none. */
  readonly compression?: string
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

/** Another frame, encoded and then compressed as agreed in the handshake (never before it, never nested). */
export interface CompressedFrame {
  readonly kind: "compressed"
  readonly bytes: Uint8Array
}

export interface PingFrame {
  readonly kind: "ping"
}

export interface PongFrame {
  readonly kind: "pong"
}

export type Frame = HelloFrame | WelcomeFrame | RefuseFrame | AuthFrame | RepoFrame | ControlFrame | CompressedFrame | PingFrame | PongFrame
