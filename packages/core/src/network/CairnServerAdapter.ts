/**
 * Cairn's WebSocket server side for automerge-repo, independent of the
 * runtime: a runtime package accepts sockets and hands each to
 * `acceptSocket`. We go around automerge-repo's WebSocketServerAdapter on
 * purpose (see CairnClientAdapter.ts): it trusts whatever peer id a client
 * claims and has no hook to refuse, authenticate or describe a connection.
 */
import type { PeerId, PeerMetadata } from "@automerge/automerge-repo"
import { AuthChannel, type AuthExchange } from "./AuthExchange.js"
import { CairnNetworkAdapter, newConnectionId, type AdapterOptions, type RemotePeer } from "./CairnNetworkAdapter.js"
import { CloseCode } from "./closeCodes.js"
import { agreedCompression } from "./compression.js"
import type { Connection } from "./Connection.js"
import { HandshakeError, messageOf } from "./errors.js"
import { PROTOCOL_VERSION, type Frame, type HelloFrame, type WelcomeInfo } from "./frames.js"
import { SocketReadyState, type SocketLike } from "./SocketLike.js"

/** What a client said in its hello. */
export type Hello = Omit<HelloFrame, "kind">

/** Where a connection comes from, as far as the runtime knows. */
export interface RemoteAddress {
  readonly address?: string
}

/** Welcome (with what to tell the client, and what to remember about this connection as its `session`) or refuse. */
export type AcceptResult =
  | { readonly ok: true; readonly info: WelcomeInfo; readonly session?: unknown }
  | { readonly ok: false; readonly reason: string }

/**
 * Decides whether to welcome a client, and with what info. Runs after the
 * protocol version was checked. It may run a challenge-response through
 * `auth` before deciding. A second connection with a peer id that is
 * already connected replaces the first once accepted, so when peer ids are
 * bound to keys this hook is where a claimed id gets checked.
 */
export type AcceptHook = (hello: Hello, remote: RemoteAddress, auth: AuthExchange) => AcceptResult | Promise<AcceptResult>

export interface CairnServerAdapterOptions extends AdapterOptions {
  /** Default: welcome everyone with empty info. */
  readonly accept?: AcceptHook
}

/** One accepted socket, in the handshake or open. */
interface Accepted {
  readonly connection: Connection
  readonly remote: RemoteAddress
  readonly auth: AuthChannel
  /** The handshake is over (welcomed, refused or closed). */
  readonly settle: () => void
  phase: "hello" | "accepting" | "open"
  peer?: RemotePeer
  timer?: ReturnType<typeof setTimeout>
}

/** A NetworkAdapter that serves any number of client connections handed to it. */
export class CairnServerAdapter extends CairnNetworkAdapter {
  readonly #accept: AcceptHook
  readonly #accepted = new Set<Accepted>()
  #state: "new" | "running" | "stopped" = "new"
  #resolveStarted!: () => void
  readonly #started = new Promise<void>(resolve => (this.#resolveStarted = resolve))

  constructor(options: CairnServerAdapterOptions) {
    super(options)
    this.#accept = options.accept ?? (() => ({ ok: true, info: {} }))
  }

  /** True once the Repo called `connect`: a server has nothing to wait for. */
  override isReady(): boolean {
    return this.#state === "running"
  }

  /** Resolves when the Repo has called `connect`. */
  override whenReady(): Promise<void> {
    return this.#started
  }

  /** Called by the Repo with its own identity, which welcomes carry. Sockets accepted earlier wait for it. */
  override connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? this.peerMetadata ?? {}
    this.#state = "running"
    this.#resolveStarted()
  }

  /** Called by the Repo: close every connection; sockets handed in afterwards are closed at once. */
  override disconnect(): void {
    this.#state = "stopped"
    for (const accepted of [...this.#accepted]) {
      accepted.connection.close(CloseCode.GOING_AWAY, "server shutting down")
    }
  }

  /**
   * Take over a socket a client just opened. The adapter owns it from here:
   * handshake, traffic and closing. Never throws. The promise resolves when
   * the handshake is over, welcomed or not (a runtime that bounds what an
   * unauthenticated socket may send stops counting then).
   */
  acceptSocket(socket: SocketLike, remote: RemoteAddress = {}): Promise<void> {
    if (this.#state === "stopped") {
      try {
        socket.close(CloseCode.GOING_AWAY, "server shutting down")
      } catch {
        // Already closing; nothing to do.
      }
      return Promise.resolve()
    }
    let settle!: () => void
    const settled = new Promise<void>(resolve => (settle = resolve))
    const accepted: Accepted = {
      settle,
      remote,
      phase: "hello",
      connection: this.createConnection(socket, remote.address ?? "unknown address", {
        onFrame: frame => this.#onFrame(accepted, frame),
        onClose: () => this.#onClose(accepted),
      }),
      auth: new AuthChannel(message => {
        if (!accepted.connection.send({ kind: "auth", message })) throw new HandshakeError("the connection is closed")
      }),
    }
    this.#accepted.add(accepted)
    accepted.timer = setTimeout(() => {
      const reason = `no handshake within ${this.handshakeTimeoutMs} ms`
      this.log(`${accepted.connection.label}: closing the connection: ${reason}`)
      accepted.connection.close(CloseCode.TIMEOUT, reason)
    }, this.handshakeTimeoutMs)
    if (socket.readyState !== SocketReadyState.OPEN && socket.readyState !== SocketReadyState.CONNECTING) {
      accepted.connection.close(CloseCode.GOING_AWAY, "socket already closed")
    }
    return settled
  }

  #onFrame(accepted: Accepted, frame: Frame): void {
    const { connection } = accepted
    if (accepted.phase === "open" && accepted.peer) {
      this.handleFrame(accepted.peer, connection, frame)
    } else if (accepted.phase === "hello" && frame.kind === "hello") {
      accepted.phase = "accepting"
      void this.#handshake(accepted, frame)
    } else if (accepted.phase === "accepting" && frame.kind === "auth") {
      if (!accepted.auth.push(frame.message)) this.closeForBadFrame(connection, "too many auth frames")
    } else if (frame.kind === "refuse") {
      this.log(`${connection.label} gave up the handshake: ${frame.reason}`)
      connection.close(CloseCode.NORMAL, frame.reason)
    } else {
      const expected = accepted.phase === "hello" ? "hello" : "auth"
      this.closeForBadFrame(connection, `expected ${expected}, got ${frame.kind}`)
    }
  }

  async #handshake(accepted: Accepted, hello: HelloFrame): Promise<void> {
    const { connection } = accepted
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.#refuse(accepted, `unsupported protocol version ${hello.protocol}; this server speaks ${PROTOCOL_VERSION}`)
      return
    }
    await this.#started
    const { kind: _, ...helloFields } = hello
    let result: AcceptResult
    try {
      result = await this.#accept(helloFields, accepted.remote, accepted.auth)
    } catch (error) {
      if (!connection.isOpen) return
      this.log(`${connection.label}: accept hook failed: ${messageOf(error)}`)
      this.#refuse(accepted, "the server could not decide whether to accept this connection")
      return
    }
    if (!connection.isOpen || this.#state !== "running") return
    if (!result.ok) {
      this.#refuse(accepted, result.reason)
      return
    }
    const { peerId, peerMetadata } = this
    if (peerId === undefined) return
    if (hello.peerId === peerId) {
      // Usually a peer configured to dial its own address.
      this.#refuse(accepted, `peer id ${peerId} is this server's own`)
      return
    }
    // Same rule as automerge-repo: the newest connection of a peer id wins.
    // The old one is refused, not just closed, so that two live clients that
    // share an id do not take turns replacing each other forever.
    this.connectionOf(hello.peerId)?.refuse("replaced by a newer connection with the same peer id", CloseCode.REPLACED)
    clearTimeout(accepted.timer)
    accepted.phase = "open"
    accepted.peer = {
      peerId: hello.peerId,
      peerMetadata: hello.peerMetadata,
      info: hello.info,
      connectionId: newConnectionId(),
      session: result.session,
    }
    connection.label = `${hello.peerId} (${connection.label})`
    const compression = agreedCompression(this.compression, hello.compression)
    try {
      connection.send({
        kind: "welcome",
        peerId,
        peerMetadata: peerMetadata ?? {},
        info: result.info,
        ...(compression ? { compression: compression.name } : {}),
      })
    } catch (error) {
      this.log(`${connection.label}: cannot encode the welcome: ${messageOf(error)}`)
      connection.close(CloseCode.NORMAL, "the server could not encode its welcome")
      return
    }
    accepted.settle()
    this.addPeer(accepted.peer, connection, compression)
  }

  #refuse(accepted: Accepted, reason: string): void {
    this.log(`${accepted.connection.label}: refused: ${reason}`)
    accepted.connection.refuse(reason)
  }

  #onClose(accepted: Accepted): void {
    accepted.settle()
    clearTimeout(accepted.timer)
    this.#accepted.delete(accepted)
    accepted.auth.fail(new HandshakeError("the connection closed during the handshake"))
    if (accepted.peer) this.removePeer(accepted.peer.peerId, accepted.connection)
  }
}
