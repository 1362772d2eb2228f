/**
 * Cairn's WebSocket client for automerge-repo.
 *
 * We go around automerge-repo's own WebSocketClientAdapter (2.5.6) on
 * purpose: its server has no auth hook (a peer id is whatever the client
 * claims), it retries every 5 s with no backoff, it cannot carry Cairn's own
 * replication protocol (batched catalog sync) on the same connection, it
 * cannot count bytes, and disconnecting while it connects throws an uncaught
 * error. Wire format: see frames.ts.
 */
import type { PeerId, PeerMetadata } from "@automerge/automerge-repo"
import { Backoff, type BackoffOptions } from "./Backoff.js"
import {
  CairnNetworkAdapter,
  newConnectionId,
  type AdapterOptions,
  type CairnAdapterEvents,
  type RemotePeer,
} from "./CairnNetworkAdapter.js"
import { CloseCode } from "./closeCodes.js"
import { agreedCompression } from "./compression.js"
import type { Connection } from "./Connection.js"
import { messageOf, NoWebSocketError } from "./errors.js"
import { PROTOCOL_VERSION, type Frame, type HelloInfo, type PeerInfo } from "./frames.js"
import type { CreateSocket, SocketLike } from "./SocketLike.js"

/**
 * `connecting`: a socket is open or opening and the handshake is not done.
 * `connected`: welcomed; documents and control messages flow.
 * `disconnected`: not connected; retrying after a backoff unless stopped.
 * `refused`: the server said no (or replaced us with a newer connection of the
 *   same peer id), or this client could not authenticate; no more retries until
 *   `reconnect()`.
 */
export type ClientStatus = "connecting" | "connected" | "disconnected" | "refused"

export interface CairnClientEvents extends CairnAdapterEvents {
  /** The connection status changed. */
  status: ClientStatus
}

export interface CairnClientAdapterOptions extends AdapterOptions {
  /** The server's `ws://` or `wss://` URL. */
  readonly url: string
  /** Makes the socket. Default: the global `WebSocket` (browsers, Node 22+). */
  readonly createSocket?: CreateSocket
  /** What to say about ourselves in the hello; called once per connection attempt. */
  readonly info: () => HelloInfo | Promise<HelloInfo>
  /** How long to wait between reconnection attempts. */
  readonly backoff?: BackoffOptions
  /**
   * `whenReady()` resolves after this many ms even if the server has not
   * answered, so a Repo working offline does not hang. Default 1,000.
   */
  readonly readyTimeoutMs?: number
  /**
   * Answers the server's auth messages during the handshake (see
   * `AuthExchange`); return undefined to send nothing back, throw to refuse.
   * Without it, a server that asks for authentication is refused.
   */
  readonly answerAuth?: (message: unknown) => unknown | Promise<unknown>
  /**
   * Looks at the server's welcome before anything flows; a returned reason
   * refuses the connection (as a server's refusal would, no retries). For
   * example: a server that was to prove a key it did not prove.
   */
  readonly checkWelcome?: (info: PeerInfo) => string | undefined
}

/** A NetworkAdapter that keeps one connection to a Cairn server, reconnecting with backoff. */
export class CairnClientAdapter extends CairnNetworkAdapter<CairnClientEvents> {
  /** The server's URL. */
  readonly url: string
  readonly #createSocket: CreateSocket
  readonly #info: () => HelloInfo | Promise<HelloInfo>
  readonly #answerAuth: ((message: unknown) => unknown) | undefined
  readonly #checkWelcome: ((info: PeerInfo) => string | undefined) | undefined
  readonly #backoff: Backoff
  readonly #readyTimeoutMs: number
  #status: ClientStatus = "disconnected"
  #refusal: string | undefined
  #connection: Connection | undefined
  #remote: RemotePeer | undefined
  #stopped = true
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined
  #ready = false
  #readyTimer: ReturnType<typeof setTimeout> | undefined
  #resolveReady!: () => void
  readonly #readyPromise = new Promise<void>(resolve => (this.#resolveReady = resolve))

  /** Throws {@link NoWebSocketError} when `createSocket` is missing and the runtime has no global WebSocket. */
  constructor(options: CairnClientAdapterOptions) {
    super(options)
    this.url = options.url
    this.#createSocket = options.createSocket ?? globalWebSocket()
    this.#info = options.info
    this.#answerAuth = options.answerAuth
    this.#checkWelcome = options.checkWelcome
    this.#backoff = new Backoff(options.backoff)
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 1_000
  }

  /** Where the connection stands; the `status` event reports every change. */
  get status(): ClientStatus {
    return this.#status
  }

  /** Why, when `status` is `refused`: the server's reason, or this client's. */
  get refusalReason(): string | undefined {
    return this.#refusal
  }

  /** The server's peer id while connected. */
  get remotePeerId(): PeerId | undefined {
    return this.#remote?.peerId
  }

  /** The info from the server's welcome while connected. */
  get remoteInfo(): PeerInfo | undefined {
    return this.#remote?.info
  }

  /** True once connected, refused, stopped, or the ready timeout passed. */
  override isReady(): boolean {
    return this.#ready
  }

  /** Resolves once connected, refused, stopped, or after `readyTimeoutMs`; never rejects. */
  override whenReady(): Promise<void> {
    return this.#readyPromise
  }

  /** Called by the Repo: start connecting, and keep reconnecting until `disconnect()`. */
  override connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? this.peerMetadata ?? {}
    this.#stopped = false
    if (!this.#ready && this.#readyTimer === undefined) {
      this.#readyTimer = setTimeout(() => this.#markReady(), this.#readyTimeoutMs)
    }
    if (!this.#connection && this.#retryTimer === undefined) this.#open()
  }

  /**
   * Connect now: after a refusal, after `disconnect()`, or to cut a backoff
   * wait short. Does nothing while connected or connecting.
   */
  reconnect(): void {
    this.#refusal = undefined
    this.#backoff.reset()
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    // Before the Repo's first connect() there is no peer id to say hello with; the Repo will call connect().
    if (this.peerId !== undefined) this.connect(this.peerId, this.peerMetadata)
  }

  /** Called by the Repo: close the connection and stop reconnecting. Safe in any state, also while connecting. */
  override disconnect(): void {
    this.#stopped = true
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    this.#markReady()
    if (this.#connection) this.#connection.close(CloseCode.GOING_AWAY, "client disconnecting")
    else if (this.#status !== "refused") this.#setStatus("disconnected")
  }

  #open(): void {
    this.#retryTimer = undefined
    this.#setStatus("connecting")
    let socket: SocketLike
    try {
      socket = this.#createSocket(this.url)
    } catch (error) {
      this.log(`cannot open a socket to ${this.url}: ${messageOf(error)}`)
      this.#setStatus("disconnected")
      this.#scheduleRetry()
      return
    }
    const connection: Connection = this.createConnection(socket, this.url, {
      onOpen: () => void this.#sendHello(connection),
      onFrame: frame => this.#onFrame(connection, frame),
      onClose: (code, reason, byUs) => this.#onClose(connection, code, reason, byUs),
    })
    this.#connection = connection
    // Counted from the socket's creation, so a TCP connect that hangs is covered too.
    this.#handshakeTimer = setTimeout(
      () => connection.close(CloseCode.TIMEOUT, `no welcome within ${this.handshakeTimeoutMs} ms`),
      this.handshakeTimeoutMs,
    )
  }

  async #sendHello(connection: Connection): Promise<void> {
    try {
      const info = await this.#info()
      if (connection !== this.#connection) return
      const { peerId, peerMetadata } = this
      if (peerId === undefined) return
      const compression = this.compression ? { compression: [this.compression.name] } : {}
      connection.send({ kind: "hello", protocol: PROTOCOL_VERSION, peerId, peerMetadata: peerMetadata ?? {}, info, ...compression })
    } catch (error) {
      this.log(`cannot send hello to ${this.url}: ${messageOf(error)}`)
      connection.close(CloseCode.NORMAL, "client could not build its hello")
    }
  }

  #onFrame(connection: Connection, frame: Frame): void {
    if (connection !== this.#connection) return
    if (frame.kind === "refuse") {
      this.#stop(connection, frame.reason, false)
    } else if (this.#remote) {
      this.handleFrame(this.#remote, connection, frame)
    } else if (frame.kind === "welcome") {
      const refusal = this.#checkWelcome?.(frame.info)
      if (refusal !== undefined) {
        this.#stop(connection, refusal, true)
        return
      }
      clearTimeout(this.#handshakeTimer)
      this.#backoff.reset()
      this.#remote = { peerId: frame.peerId, peerMetadata: frame.peerMetadata, info: frame.info, connectionId: newConnectionId() }
      connection.label = `${frame.peerId} at ${this.url}`
      this.#setStatus("connected")
      this.#markReady()
      this.addPeer(this.#remote, connection, agreedCompression(this.compression, frame.compression ? [frame.compression] : undefined))
    } else if (frame.kind === "auth") {
      void this.#answer(connection, frame.message)
    } else {
      this.closeForBadFrame(connection, `expected welcome, got ${frame.kind}`)
    }
  }

  async #answer(connection: Connection, message: unknown): Promise<void> {
    if (!this.#answerAuth) {
      this.#stop(connection, "the server asks for authentication and this client has no answerAuth", true)
      return
    }
    try {
      const reply = await this.#answerAuth(message)
      if (reply !== undefined) connection.send({ kind: "auth", message: reply })
    } catch (error) {
      this.#stop(connection, `authentication failed: ${messageOf(error)}`, true)
    }
  }

  /**
   * A refusal, by either side, is a decision and not a fault: retrying would
   * only be refused again, so the client stops until `reconnect()`.
   */
  #stop(connection: Connection, reason: string, tellServer: boolean): void {
    if (connection !== this.#connection) return
    this.log(`${this.url}: connection refused: ${reason}`)
    this.#refusal = reason
    this.#stopped = true
    this.#setStatus("refused")
    this.#markReady()
    if (tellServer) connection.refuse(reason)
    else connection.close(CloseCode.REFUSED, reason)
  }

  #onClose(connection: Connection, code: number, reason: string, byUs: boolean): void {
    if (connection !== this.#connection) return
    this.#connection = undefined
    clearTimeout(this.#handshakeTimer)
    if (this.#remote) {
      const remote = this.#remote
      this.#remote = undefined
      this.removePeer(remote.peerId, connection)
    }
    if (this.#status === "refused") return
    this.#setStatus("disconnected")
    if (!this.#stopped) {
      const why = reason || UNEXPLAINED_CLOSES[code]
      if (!byUs && code !== CloseCode.GOING_AWAY && code !== CloseCode.NORMAL && why) {
        this.log(`${this.url} closed the connection (${code}): ${why}`)
      }
      this.#scheduleRetry()
    }
  }

  #scheduleRetry(): void {
    if (this.#stopped) return
    this.#retryTimer = setTimeout(() => this.#open(), this.#backoff.next())
  }

  #setStatus(status: ClientStatus): void {
    if (status === this.#status) return
    this.#status = status
    this.emitToApp("status", status)
  }

  #markReady(): void {
    clearTimeout(this.#readyTimer)
    if (this.#ready) return
    this.#ready = true
    this.#resolveReady()
  }
}

/**
 * Standard close codes that arrive without a reason: `ws` closes with 1009
 * alone when a frame exceeds its maxPayload, and a client that is not told
 * would resend the same frame after every reconnect without a word.
 */
const UNEXPLAINED_CLOSES: Readonly<Record<number, string>> = {
  1009: "a frame was larger than the server accepts",
}

function globalWebSocket(): CreateSocket {
  const WebSocketClass = (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket
  if (!WebSocketClass) throw new NoWebSocketError()
  return url => new WebSocketClass(url)
}
