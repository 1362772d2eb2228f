/**
 * The part of a WebSocket that Cairn's transport uses. The browser's
 * `WebSocket` and Node's `ws` both satisfy it as they are, so core never
 * imports either: the runtime packages hand sockets in.
 */
export interface SocketLike {
  /** One of {@link SocketReadyState}; only an `OPEN` socket may `send`. */
  readonly readyState: number

  /**
   * How binary messages are delivered. The transport sets `"arraybuffer"`,
   * which both runtimes support, so a message's `data` is an `ArrayBuffer`
   * (or, from `ws` with other settings, a `Uint8Array`).
   */
  binaryType: string

  /**
   * Send one binary message. Throws if the socket is still connecting;
   * after close it may silently drop the bytes (browsers do).
   */
  send(data: Uint8Array): void

  /**
   * Start the closing handshake. Browsers throw unless `code` is 1000 or
   * 3000–4999 and `reason` is at most 123 UTF-8 bytes; `ws` throws on an
   * invalid code too. Closing a socket that is still connecting makes `ws`
   * emit an `error` event, so keep an error listener attached until `close`.
   */
  close(code?: number, reason?: string): void

  /** Bytes sent but not yet handed to the network (both runtimes have it). */
  readonly bufferedAmount?: number

  /** Drop the connection now, without a closing handshake and without sending what is queued (`ws` has it). */
  terminate?(): void

  /** The socket is open and may send. */
  addEventListener(type: "open", listener: () => void): void
  /** One message arrived; `data` is a string for a text message. */
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void): void
  /** The socket closed, cleanly or not; fired once, after which nothing else is. */
  addEventListener(type: "close", listener: (event: { readonly code: number; readonly reason: string }) => void): void
  /** Something failed; a `close` event follows. Browsers give no detail here. */
  addEventListener(type: "error", listener: (event: unknown) => void): void
}

/** The `readyState` values shared by every WebSocket implementation. */
export const SocketReadyState = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const

/** Makes a client socket for a URL; the runtime decides which implementation. */
export type CreateSocket = (url: string) => SocketLike
