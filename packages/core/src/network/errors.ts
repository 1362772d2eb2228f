import { CairnError } from "../errors.js"

/**
 * Bytes from a peer that are not a frame we accept: invalid CBOR, the wrong
 * shape, a frame larger than the limit, or a frame the protocol does not
 * allow at this point. The connection that sent it is closed with this
 * message as the reason.
 */
export class FrameError extends CairnError {}

/** `sendControl` named a peer that has no open connection on this adapter. */
export class NotConnectedError extends CairnError {
  constructor(readonly peerId: string) {
    super(`peer ${peerId} is not connected; wait for its "peer" event before sending to it`)
  }
}

/** A client adapter was built without `createSocket` where there is no global `WebSocket` (Node 20). */
export class NoWebSocketError extends CairnError {
  constructor() {
    super("this runtime has no global WebSocket; pass createSocket (in Node, use createNodeClientAdapter from @cairn/node)")
  }
}

/**
 * The handshake could not finish: the connection closed, or the other side
 * took too long. An {@link AuthExchange}'s `receive` rejects with it.
 */
export class HandshakeError extends CairnError {}

/** The message of anything thrown, for log lines and close reasons. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
