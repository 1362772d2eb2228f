export {
  CairnNetworkAdapter,
  type InboundVerdict,
  type RemotePeer,
  type PeerEvent,
  type ControlEvent,
  type CairnAdapterEvents,
  type AdapterOptions,
} from "./CairnNetworkAdapter.js"
export { CairnClientAdapter, type ClientStatus, type CairnClientAdapterOptions, type CairnClientEvents } from "./CairnClientAdapter.js"
export {
  CairnServerAdapter,
  type AcceptHook,
  type AcceptResult,
  type Hello,
  type RemoteAddress,
  type CairnServerAdapterOptions,
} from "./CairnServerAdapter.js"
export type { AuthExchange } from "./AuthExchange.js"
export type { ConnectionStats } from "./Connection.js"
export type { FrameCompression } from "./compression.js"
export { SocketReadyState, type SocketLike, type CreateSocket } from "./SocketLike.js"
export { MemorySocket } from "./MemorySocket.js"
export type { BackoffOptions } from "./Backoff.js"
export { CloseCode } from "./closeCodes.js"
export { FrameError, NotConnectedError, NoWebSocketError, HandshakeError } from "./errors.js"
export {
  PROTOCOL_VERSION as FRAME_PROTOCOL_VERSION,
  DEFAULT_MAX_FRAME_BYTES,
  type PeerInfo,
  type HelloInfo,
  type WelcomeInfo,
} from "./frames.js"
