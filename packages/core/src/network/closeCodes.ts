/**
 * WebSocket close codes the transport uses. Scripts in a browser may only
 * close with 1000 or 3000–4999, so Cairn's own reasons live in 4000–4999
 * (the last three digits echo the HTTP status they resemble).
 */
export const CloseCode = {
  /** Closed on purpose, nothing wrong. */
  NORMAL: 1000,
  /** The peer is shutting down or disconnecting. */
  GOING_AWAY: 1001,
  /** A frame was malformed, too large, or not allowed at this point. */
  BAD_FRAME: 4400,
  /** The handshake was refused (protocol version, accept hook, authentication). */
  REFUSED: 4403,
  /** The handshake took too long, or the peer went silent. */
  TIMEOUT: 4408,
  /** A newer connection with the same peer id took this one's place. */
  REPLACED: 4409,
  /** The peer left more unread bytes waiting than a connection may hold. */
  TOO_SLOW: 4429,
} as const
