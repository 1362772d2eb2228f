import { CloseCode } from "./closeCodes.js"
import { FrameError, messageOf } from "./errors.js"
import type { FrameLimits } from "./cborLimits.js"
import { packFrame, unpackFrame, type FrameCompression } from "./compression.js"
import { encodeFrame, HANDSHAKE_LIMITS, openLimits, type Frame } from "./frames.js"
import { SocketReadyState, type SocketLike } from "./SocketLike.js"

/** Traffic on one connection, or on all of an adapter's connections. */
export interface ConnectionStats {
  /** Bytes of WebSocket message payload received (frames as encoded, not TCP bytes). */
  readonly bytesIn: number
  /** Bytes of WebSocket message payload sent. */
  readonly bytesOut: number
  readonly framesIn: number
  readonly framesOut: number
}

export type MutableStats = { -readonly [K in keyof ConnectionStats]: ConnectionStats[K] }

export function emptyStats(): MutableStats {
  return { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0 }
}

export interface ConnectionOptions {
  /** The byte limit on a frame once the handshake is done (before it, {@link HANDSHAKE_LIMITS} hold). */
  readonly maxFrameBytes: number
  /**
   * Bytes waiting to go out past which `whenDrained` waits until they drain
   * to half (default 16 MiB); a frame sent while twice this is waiting
   * closes the connection. A peer that asks and does not read cannot make us
   * hold more than that for it. (Reading is not paused meanwhile: two peers
   * sending to each other would each wait for the other to read.)
   */
  readonly maxBufferedBytes?: number
  /** Send a ping after this long without hearing anything; close if the ping goes unanswered as long. 0 turns it off. */
  readonly keepAliveMs: number
  /** Adapter-wide counters that this connection adds to, besides its own. */
  readonly totals: MutableStats
  readonly log: (message: string) => void
  /** Called once the socket is open (at once if it already is). */
  readonly onOpen?: () => void
  /** Every frame except `ping`/`pong`, which the connection answers itself. */
  readonly onFrame: (frame: Frame) => void
  /** Called exactly once, when either side closed or the socket failed; `byUs` when `close()` was called here. */
  readonly onClose: (code: number, reason: string, byUs: boolean) => void
}

/**
 * One WebSocket as a stream of validated frames: decoding, the size limit,
 * keep-alive and byte counting live here so the client and the server
 * adapters only see frames. Hostile input never throws out of it; it closes
 * the socket instead.
 */
export class Connection {
  /** Who is on the other end, for log lines; the adapter sets it once it knows. */
  label: string
  readonly #socket: SocketLike
  readonly #options: ConnectionOptions
  readonly #stats = emptyStats()
  #closed = false
  #lastHeard = Date.now()
  #pingSentAt: number | undefined
  #keepAlive: ReturnType<typeof setInterval> | undefined
  #limits: FrameLimits
  /** Agreed in the handshake; until then, and when none was, frames go as they are. */
  #compression: FrameCompression | undefined
  #draining: ReturnType<typeof setInterval> | undefined
  #drainWaiters: (() => void)[] = []

  constructor(socket: SocketLike, label: string, options: ConnectionOptions) {
    this.#socket = socket
    this.label = label
    this.#options = options
    this.#limits = { ...HANDSHAKE_LIMITS, maxFrameBytes: Math.min(HANDSHAKE_LIMITS.maxFrameBytes, options.maxFrameBytes) }
    socket.binaryType = "arraybuffer"
    // Listeners stay attached after close: `ws` emits an error for a socket
    // closed while connecting, and with no listener that error is thrown.
    socket.addEventListener("open", () => this.#opened())
    socket.addEventListener("message", event => this.#received(event.data))
    socket.addEventListener("close", event => this.#finish(event.code, event.reason, false))
    socket.addEventListener("error", event => this.#socketError(event))
    if (socket.readyState === SocketReadyState.OPEN) queueMicrotask(() => this.#opened())
  }

  /** This connection's traffic so far. */
  get stats(): ConnectionStats {
    return { ...this.#stats }
  }

  /** True until the connection closed, from either end. */
  get isOpen(): boolean {
    return !this.#closed && this.#socket.readyState === SocketReadyState.OPEN
  }

  /** The handshake is done: from now on frames up to the adapter's limits are accepted, compressed if both sides agreed to. */
  opened(compression?: FrameCompression): void {
    this.#limits = openLimits(this.#options.maxFrameBytes)
    this.#compression = compression
  }

  /**
   * Send one frame. Returns false, sending nothing, when the socket is not
   * open: the caller decides whether that matters. Throws only if the frame
   * cannot be encoded.
   */
  send(frame: Frame): boolean {
    if (!this.isOpen) return false
    const bytes = packFrame(encodeFrame(frame), this.#compression)
    try {
      this.#socket.send(bytes)
    } catch (error) {
      this.#options.log(`${this.label}: send failed: ${messageOf(error)}`)
      return false
    }
    this.#count("bytesOut", "framesOut", bytes.byteLength)
    this.#checkBuffered(bytes.byteLength)
    return true
  }

  /**
   * Resolves once the bytes waiting to go out are under the limit (at once
   * if they are, or if the connection closed). Producers of many frames
   * await it between frames, so a slow reader slows them instead of
   * filling memory.
   */
  whenDrained(): Promise<void> {
    if (this.#draining === undefined) return Promise.resolve()
    return new Promise(resolve => this.#drainWaiters.push(resolve))
  }

  get #maxBuffered(): number {
    return this.#options.maxBufferedBytes ?? 16 * 1024 * 1024
  }

  #checkBuffered(frameBytes: number): void {
    const buffered = this.#socket.bufferedAmount ?? 0
    // Producers that wait for the drain stay under the limit; only a peer that keeps asking without reading gets past twice it.
    if (buffered - frameBytes > 2 * this.#maxBuffered) {
      const reason = `the peer is not reading: ${buffered} bytes waiting to be sent`
      this.#options.log(`${this.label}: closing the connection: ${reason}`)
      // A closing handshake would queue behind those bytes and keep them for its whole timeout.
      if (this.#socket.terminate) this.#socket.terminate()
      else this.#socket.close(CloseCode.TOO_SLOW, truncateUtf8(reason, 120))
      this.#finish(CloseCode.TOO_SLOW, reason, true)
      return
    }
    if (buffered <= this.#maxBuffered || this.#draining !== undefined) return
    // Neither runtime has an event for "drained", so poll, only while over the limit.
    this.#draining = setInterval(() => {
      if ((this.#socket.bufferedAmount ?? 0) <= this.#maxBuffered / 2) this.#drained()
    }, 20)
  }

  #drained(): void {
    clearInterval(this.#draining)
    this.#draining = undefined
    for (const resolve of this.#drainWaiters.splice(0)) resolve()
  }

  /**
   * Close with a code from {@link CloseCode} and a reason for the other side
   * and the logs. Safe to call at any time, more than once, and on a socket
   * that is still connecting.
   */
  close(code: number, reason: string): void {
    if (this.#closed) return
    try {
      this.#socket.close(code, truncateUtf8(reason, 120))
    } catch (error) {
      this.#options.log(`${this.label}: close failed: ${messageOf(error)}`)
    }
    this.#finish(code, reason, true)
  }

  /** Send `refuse` with a reason, then close: the polite way to end a handshake. */
  refuse(reason: string, code: number = CloseCode.REFUSED): void {
    this.send({ kind: "refuse", reason })
    this.close(code, reason)
  }

  #opened(): void {
    if (this.#closed || this.#keepAlive !== undefined) return
    this.#lastHeard = Date.now()
    if (this.#options.keepAliveMs > 0) {
      this.#keepAlive = setInterval(() => this.#checkAlive(), this.#options.keepAliveMs)
    }
    this.#options.onOpen?.()
  }

  // Judged from our own ping, not from the silence alone: if this process
  // was too busy to run the timer, the other side is not to blame.
  #checkAlive(): void {
    const now = Date.now()
    if (this.#pingSentAt !== undefined) {
      if (now - this.#pingSentAt >= this.#options.keepAliveMs) {
        this.close(CloseCode.TIMEOUT, `no answer to a ping; nothing heard for ${now - this.#lastHeard} ms`)
      }
    } else if (now - this.#lastHeard >= this.#options.keepAliveMs) {
      this.#pingSentAt = now
      this.send({ kind: "ping" })
    }
  }

  #received(data: unknown): void {
    if (this.#closed) return
    const bytes = bytesOf(data)
    if (!bytes) {
      this.#protocolError(new FrameError("text or unreadable message; frames are binary CBOR"))
      return
    }
    this.#count("bytesIn", "framesIn", bytes.byteLength)
    this.#lastHeard = Date.now()
    this.#pingSentAt = undefined
    let frame: Frame
    try {
      frame = unpackFrame(bytes, this.#limits, this.#compression)
    } catch (error) {
      this.#protocolError(error)
      return
    }
    if (frame.kind === "ping") this.send({ kind: "pong" })
    else if (frame.kind !== "pong") this.#options.onFrame(frame)
  }

  // A dial that fails is reported by the client's status and retried; only
  // errors on an open socket (`ws` says "Max payload size exceeded", for
  // one) are worth a log line. Browsers give no detail at all.
  #socketError(event: unknown): void {
    if (this.#closed || this.#socket.readyState === SocketReadyState.CONNECTING) return
    const detail = (event as { message?: unknown } | undefined)?.message
    this.#options.log(`${this.label}: socket error${typeof detail === "string" && detail ? `: ${detail}` : ""}`)
  }

  #protocolError(error: unknown): void {
    const reason = messageOf(error)
    this.#options.log(`${this.label}: closing the connection: ${reason}`)
    this.close(CloseCode.BAD_FRAME, reason)
  }

  #finish(code: number, reason: string, byUs: boolean): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#keepAlive)
    this.#drained()
    this.#options.onClose(code, reason, byUs)
  }

  #count(bytesKey: "bytesIn" | "bytesOut", framesKey: "framesIn" | "framesOut", byteLength: number): void {
    this.#stats[bytesKey] += byteLength
    this.#stats[framesKey]++
    this.#options.totals[bytesKey] += byteLength
    this.#options.totals[framesKey]++
  }
}

function bytesOf(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer || Object.prototype.toString.call(data) === "[object ArrayBuffer]") {
    return new Uint8Array(data as ArrayBuffer)
  }
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return undefined
}

/** WebSocket close reasons are limited to 123 UTF-8 bytes; both runtimes throw past that. */
function truncateUtf8(text: string, maxBytes: number): string {
  const encoder = new TextEncoder()
  if (encoder.encode(text).byteLength <= maxBytes) return text
  let end = Math.min(text.length, maxBytes)
  while (end > 0 && encoder.encode(text.slice(0, end) + "…").byteLength > maxBytes) end--
  return text.slice(0, end) + "…"
}
