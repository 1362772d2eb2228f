/**
 * A TCP (or TLS) stream as the {@link SocketLike} Cairn's adapters use, so
 * that the same client and server adapters, handshake, limits and gate run
 * over TCP as over WebSocket. A stream has no messages of its own, so each
 * one is framed: a kind byte, a 4-byte big-endian length, the payload.
 *
 *   kind 1  message: one Cairn frame (CBOR), as one WebSocket message carries
 *   kind 2  close: a 2-byte close code (see CloseCode), then the reason in UTF-8
 *
 * Hostile input is bounded before it is buffered: a length over the limit
 * closes the stream as soon as its header arrives, and a frame that does
 * not arrive whole within `frameTimeoutMs` of its first byte closes it too
 * (a peer that dribbles a frame byte by byte holds nothing for long).
 */
import type { Socket } from "node:net"
import { CloseCode, SocketReadyState, type SocketLike } from "@cairn/core/network"

const MESSAGE = 1
const CLOSE = 2
const HEADER_BYTES = 5
/** Close reasons are cut to this many bytes, as a WebSocket's are. */
const MAX_REASON_BYTES = 123
/** How long a closing stream waits for the other side to finish before it is cut off. */
const CLOSE_GRACE_MS = 1_000
/** The close code of a stream that ended without a close frame (as a WebSocket reports it). */
const ABNORMAL_CLOSURE = 1006

export interface TcpSocketOptions {
  /** A message whose length header says more than this closes the stream before any of it is buffered. */
  readonly maxFrameBytes: number
  /** A frame must arrive whole within this long of its first byte. Default 30,000. */
  readonly frameTimeoutMs?: number
  /** The stream is connected already (a server accepted it); otherwise it opens on `connect`/`secureConnect`. */
  readonly open?: boolean
}

type Listeners = { [K in "open" | "message" | "close" | "error"]: ((event: any) => void)[] }

export class TcpSocket implements SocketLike {
  binaryType = "arraybuffer"
  readonly stream: Socket
  readonly #options: TcpSocketOptions
  readonly #listeners: Listeners = { open: [], message: [], close: [], error: [] }
  #readyState: number
  /** Bytes received and not yet a whole frame. */
  #pending: Buffer[] = []
  #pendingBytes = 0
  /** The length of the frame being received, once its header is in. */
  #frame: { kind: number; length: number } | undefined
  #frameTimer: ReturnType<typeof setTimeout> | undefined
  /** Why the stream closed, from a close frame either way, or from a failure here. */
  #closeEvent: { code: number; reason: string } | undefined
  #closeDispatched = false

  constructor(stream: Socket, options: TcpSocketOptions) {
    this.stream = stream
    this.#options = options
    this.#readyState = options.open ? SocketReadyState.OPEN : SocketReadyState.CONNECTING
    stream.setNoDelay(true)
    const opened = () => {
      if (this.#readyState !== SocketReadyState.CONNECTING) return
      this.#readyState = SocketReadyState.OPEN
      this.#dispatch("open", {})
    }
    // A TLS stream may send once its handshake is done, not when the TCP connection is.
    stream.once("encrypted" in stream ? "secureConnect" : "connect", opened)
    stream.on("data", chunk => this.#received(chunk as Buffer))
    stream.on("end", () => this.#ended())
    stream.on("error", error => this.#dispatch("error", { message: error.message }))
    stream.on("close", () => this.#finished())
  }

  /** {@inheritDoc SocketLike.readyState} */
  get readyState(): number {
    return this.#readyState
  }

  /** {@inheritDoc SocketLike.bufferedAmount} */
  get bufferedAmount(): number {
    return this.stream.writableLength
  }

  /** {@inheritDoc SocketLike.send} */
  send(data: Uint8Array): void {
    if (this.#readyState === SocketReadyState.CONNECTING) throw new Error("the TCP connection is still connecting")
    if (this.#readyState !== SocketReadyState.OPEN) return
    this.#write(MESSAGE, data)
  }

  /** {@inheritDoc SocketLike.close} */
  close(code: number = CloseCode.NORMAL, reason = ""): void {
    if (this.#readyState === SocketReadyState.CLOSING || this.#readyState === SocketReadyState.CLOSED) return
    if (this.#readyState === SocketReadyState.CONNECTING) {
      this.#closeEvent = { code: ABNORMAL_CLOSURE, reason: "" }
      this.#readyState = SocketReadyState.CLOSED
      this.stream.destroy()
      return
    }
    this.#closeEvent = { code, reason }
    this.#readyState = SocketReadyState.CLOSING
    const reasonBytes = truncated(Buffer.from(reason, "utf8"))
    const payload = Buffer.alloc(2 + reasonBytes.byteLength)
    payload.writeUInt16BE(code, 0)
    reasonBytes.copy(payload, 2)
    this.#write(CLOSE, payload)
    this.#finishSending()
  }

  /** {@inheritDoc SocketLike.terminate} */
  terminate(): void {
    this.#closeEvent ??= { code: ABNORMAL_CLOSURE, reason: "" }
    this.#readyState = SocketReadyState.CLOSED
    this.stream.destroy()
  }

  /** {@inheritDoc SocketLike.addEventListener} */
  addEventListener(type: keyof Listeners, listener: (event: any) => void): void {
    this.#listeners[type].push(listener)
  }

  #write(kind: number, payload: Uint8Array): void {
    const header = Buffer.allocUnsafe(HEADER_BYTES)
    header.writeUInt8(kind, 0)
    header.writeUInt32BE(payload.byteLength, 1)
    this.stream.cork()
    this.stream.write(header)
    this.stream.write(payload)
    this.stream.uncork()
  }

  #received(chunk: Buffer): void {
    if (this.#readyState !== SocketReadyState.OPEN) return
    this.#pending.push(chunk)
    this.#pendingBytes += chunk.byteLength
    let completed = false
    while (this.#readyState === SocketReadyState.OPEN) {
      if (!this.#frame) {
        if (this.#pendingBytes < HEADER_BYTES) break
        const header = this.#take(HEADER_BYTES)
        const frame = { kind: header.readUInt8(0), length: header.readUInt32BE(1) }
        const refusal = this.#check(frame)
        if (refusal) return this.#fail(refusal.code, refusal.reason)
        this.#frame = frame
      }
      if (this.#pendingBytes < this.#frame.length) break
      const { kind, length } = this.#frame
      this.#frame = undefined
      completed = true
      const payload = this.#take(length)
      if (kind === MESSAGE) this.#dispatch("message", { data: payload })
      else this.#closedByPeer(payload)
    }
    if (completed) this.#clearFrameTimer()
    if (this.#pendingBytes > 0 && this.#frameTimer === undefined && this.#readyState === SocketReadyState.OPEN) {
      const timeoutMs = this.#options.frameTimeoutMs ?? 30_000
      this.#frameTimer = setTimeout(
        () => this.#fail(CloseCode.TIMEOUT, `a frame did not arrive whole within ${timeoutMs} ms of its first byte`),
        timeoutMs,
      )
    }
  }

  #check(frame: { kind: number; length: number }): { code: number; reason: string } | undefined {
    if (frame.kind !== MESSAGE && frame.kind !== CLOSE) {
      return { code: CloseCode.BAD_FRAME, reason: `not a Cairn TCP stream: unknown frame kind ${frame.kind}` }
    }
    const limit = frame.kind === MESSAGE ? this.#options.maxFrameBytes : 2 + MAX_REASON_BYTES
    if (frame.length > limit) {
      return { code: CloseCode.BAD_FRAME, reason: `frame of ${frame.length} bytes exceeds the limit of ${limit}` }
    }
    return undefined
  }

  /** The first `length` pending bytes, as one buffer (a view when they are in one chunk). */
  #take(length: number): Buffer {
    this.#pendingBytes -= length
    const first = this.#pending[0]
    if (first && first.byteLength >= length) {
      if (first.byteLength === length) this.#pending.shift()
      else this.#pending[0] = first.subarray(length)
      return first.subarray(0, length)
    }
    const out = Buffer.allocUnsafe(length)
    let offset = 0
    while (offset < length) {
      const chunk = this.#pending[0]!
      const used = Math.min(chunk.byteLength, length - offset)
      chunk.copy(out, offset, 0, used)
      offset += used
      if (used === chunk.byteLength) this.#pending.shift()
      else this.#pending[0] = chunk.subarray(used)
    }
    return out
  }

  /** Refuse what the peer sent: say why (to the peer, and as an error event here), then close. */
  #fail(code: number, reason: string): void {
    this.#dispatch("error", { message: reason })
    this.#pending = []
    this.#pendingBytes = 0
    this.#frame = undefined
    this.close(code, reason)
  }

  #closedByPeer(payload: Buffer): void {
    const code = payload.byteLength >= 2 ? payload.readUInt16BE(0) : ABNORMAL_CLOSURE
    this.#closeEvent = { code, reason: payload.subarray(2).toString("utf8") }
    this.#finishSending()
  }

  /** The peer finished sending; finishing ours lets the stream close. */
  #ended(): void {
    if (this.#readyState === SocketReadyState.OPEN || this.#readyState === SocketReadyState.CLOSING) this.#finishSending()
  }

  /** Send nothing more, and give the peer a moment to finish too: one that never does is cut off. */
  #finishSending(): void {
    this.#clearFrameTimer()
    this.#readyState = SocketReadyState.CLOSING
    this.stream.end()
    setTimeout(() => this.stream.destroy(), CLOSE_GRACE_MS).unref()
  }

  #finished(): void {
    this.#clearFrameTimer()
    this.#readyState = SocketReadyState.CLOSED
    if (this.#closeDispatched) return
    this.#closeDispatched = true
    this.#dispatch("close", this.#closeEvent ?? { code: ABNORMAL_CLOSURE, reason: "" })
  }

  #clearFrameTimer(): void {
    clearTimeout(this.#frameTimer)
    this.#frameTimer = undefined
  }

  #dispatch(type: keyof Listeners, event: unknown): void {
    for (const listener of [...this.#listeners[type]]) listener(event)
  }
}

function truncated(bytes: Buffer): Buffer {
  if (bytes.byteLength <= MAX_REASON_BYTES) return bytes
  let end = MAX_REASON_BYTES
  // Not in the middle of a UTF-8 sequence.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--
  return bytes.subarray(0, end)
}
