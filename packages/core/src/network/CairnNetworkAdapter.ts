import { NetworkAdapter, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo"
import { Logger, type LogCallback } from "../helpers/Logger.js"
import { CloseCode } from "./closeCodes.js"
import type { FrameCompression } from "./compression.js"
import { Connection, emptyStats, type ConnectionOptions, type ConnectionStats } from "./Connection.js"
import { NotConnectedError } from "./errors.js"
import { DEFAULT_MAX_FRAME_BYTES, type Frame, type PeerInfo } from "./frames.js"
import type { SocketLike } from "./SocketLike.js"

/** A peer at the other end of an open, welcomed connection. */
export interface RemotePeer {
  readonly peerId: PeerId
  readonly peerMetadata: PeerMetadata
  /** What it said about itself in its hello (seen by a server) or welcome (seen by a client). */
  readonly info: PeerInfo
  /**
   * Unique to this connection in this process. A peer id is only what the
   * peer claims and a second connection may reuse it; state that belongs to
   * one authenticated connection is keyed or checked by this.
   */
  readonly connectionId: number
  /** What the server's accept hook decided for this connection (its grants, say); undefined on a client. */
  readonly session?: unknown
}

/**
 * What to do with an automerge-repo message from a peer: hand it to the
 * Repo, drop it, or drop it and answer `doc-unavailable` (what the Repo
 * answers for a document it does not have or will not share).
 */
export type InboundVerdict = "pass" | "drop" | "unavailable"

/** A peer connected or went away. */
export interface PeerEvent extends RemotePeer {
  readonly state: "connected" | "disconnected"
}

/** A control message from a connected peer. */
export interface ControlEvent {
  readonly peerId: PeerId
  /** The connection it came on (see `RemotePeer.connectionId`). */
  readonly connectionId: number
  readonly message: unknown
}

/**
 * The events both adapters add to automerge-repo's (`peer-candidate`,
 * `peer-disconnected`, `message`, `close`), by name and payload.
 */
export interface CairnAdapterEvents {
  /**
   * A peer finished the handshake (emitted before automerge-repo hears of it,
   * so the replication layer knows the peer's info before the Repo syncs
   * anything) or disconnected (emitted after automerge-repo forgot it).
   */
  peer: PeerEvent
  /** A control message arrived. */
  control: ControlEvent
}

/** Settings both adapters share. */
export interface AdapterOptions {
  /** A larger frame closes the connection that sent it. Default 64 MiB. */
  readonly maxFrameBytes?: number
  /** Ping after this many ms of silence, drop the connection if the ping goes unanswered as long; 0 turns it off. Default 15,000. */
  readonly keepAliveMs?: number
  /** How long a handshake may take, in ms. Default 10,000. */
  readonly handshakeTimeoutMs?: number
  /** Where to report closed connections and refusals (at info level). Default `console.warn`. */
  readonly log?: Logger | LogCallback
  /** Unsent bytes past which a connection stops reading from its peer (see `ConnectionOptions.maxBufferedBytes`). */
  readonly maxBufferedBytes?: number
  /** Offered in the handshake; used on a connection whose other side offers the same. Default: none. */
  readonly compression?: FrameCompression
  /**
   * Sees every automerge-repo message from a peer before the Repo does,
   * whatever its kind, and decides; required, so that every runtime says
   * what its peers may do (a Replicator's `admitRepoMessage` is the usual
   * answer). This is where a peer's read and write grants hold on
   * automerge-repo's live sync, which has no notion of them.
   */
  readonly inbound: (peer: RemotePeer, message: Message) => InboundVerdict | Promise<InboundVerdict>
  /**
   * Sees every automerge-repo message to a peer before it is sent; the control message its answer resolves to, if
   * any, is sent just before it (the vouches for the changes it carries: a Replicator's `outbound`). The answer is
   * asked for when the message's turn comes, and messages to a peer leave in the order the Repo sent them.
   */
  readonly outbound?: (peer: RemotePeer, message: Message) => (() => Promise<unknown>) | undefined
}

let nextConnectionId = 1

/** Run `work` after the work queued for `connection` in `queues` (a failure does not stop the queue). */
function inOrder(queues: WeakMap<Connection, Promise<void>>, connection: Connection, work: () => Promise<void>): void {
  const next = (queues.get(connection) ?? Promise.resolve()).then(work).catch(() => {})
  queues.set(connection, next)
  void next.then(() => {
    if (queues.get(connection) === next) queues.delete(connection)
  })
}

/** A fresh id for a welcomed connection (see `RemotePeer.connectionId`). */
export function newConnectionId(): number {
  return nextConnectionId++
}

/** eventemitter3's methods, typed for a second event map of one payload per event. */
interface TypedEvents<Events> {
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): this
  once<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): this
  off<K extends keyof Events>(event: K, listener?: (payload: Events[K]) => void): this
}

// NetworkAdapter's emitter is typed with automerge-repo's events only; this
// cast adds ours beside them without changing anything at run time.
const TypedNetworkAdapter = NetworkAdapter as unknown as abstract new <Events>() => NetworkAdapter & TypedEvents<Events>

/**
 * What the client and the server adapters share once a connection is
 * welcomed: the peer table, routing automerge-repo's messages and Cairn's
 * control messages, and traffic counters.
 */
export abstract class CairnNetworkAdapter<Events extends CairnAdapterEvents = CairnAdapterEvents> extends TypedNetworkAdapter<Events> {
  protected readonly maxFrameBytes: number
  protected readonly keepAliveMs: number
  protected readonly handshakeTimeoutMs: number
  protected readonly log: (message: string) => void
  protected readonly inbound: (peer: RemotePeer, message: Message) => InboundVerdict | Promise<InboundVerdict>
  protected readonly outbound: ((peer: RemotePeer, message: Message) => (() => Promise<unknown>) | undefined) | undefined
  protected readonly compression: FrameCompression | undefined
  readonly #maxBufferedBytes: number | undefined
  readonly #peers = new Map<PeerId, { remote: RemotePeer; connection: Connection }>()
  readonly #totals = emptyStats()
  /** Per connection, the last repo message still waiting to be sent, or to be handed to the Repo (in order). */
  readonly #sending = new WeakMap<Connection, Promise<void>>()
  readonly #receiving = new WeakMap<Connection, Promise<void>>()

  constructor(options: AdapterOptions) {
    super()
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.keepAliveMs = options.keepAliveMs ?? 15_000
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000
    const logger = Logger.from(options.log ?? (message => console.warn(`cairn network: ${message}`)))
    this.log = message => logger.info(message)
    this.inbound = options.inbound
    this.outbound = options.outbound
    this.compression = options.compression
    this.#maxBufferedBytes = options.maxBufferedBytes
  }

  /**
   * Close one peer's connection, telling it why (for example: it exceeded a rate limit). Refused by default, which
   * a client does not retry; `CloseCode.GOING_AWAY` closes it as a server going away, which a client reconnects to.
   */
  closePeer(peerId: PeerId, reason: string, code: number = CloseCode.REFUSED): void {
    const connection = this.connectionOf(peerId)
    if (!connection) return
    this.log(`${connection.label}: closing the connection: ${reason}`)
    if (code === CloseCode.REFUSED) connection.refuse(reason, code)
    else connection.close(code, reason)
  }

  /** The peers with an open connection right now. */
  get peers(): RemotePeer[] {
    return [...this.#peers.values()].map(entry => entry.remote)
  }

  /**
   * Called by the Repo to send one of its messages. One for a peer that just
   * went away is dropped quietly, as it would be lost on the wire: the Repo
   * hears of the disconnect through `peer-disconnected`.
   */
  override send(message: Message): void {
    // automerge-repo passes an ephemeral message on with its first sender's id; on this hop the sender is this
    // peer (the other side closes a connection whose messages name anyone but the peer it welcomed).
    const hop = message.senderId === this.peerId || !this.peerId ? message : { ...message, senderId: this.peerId }
    const entry = this.#peers.get(message.targetId)
    if (!entry) return
    const { connection, remote } = entry
    const before = this.outbound?.(remote, hop)
    if (before === undefined && !this.#sending.has(connection)) {
      connection.send({ kind: "repo", message: hop })
      return
    }
    inOrder(this.#sending, connection, async () => {
      const control = await before?.().catch(() => undefined)
      if (control !== undefined) connection.send({ kind: "control", message: control })
      connection.send({ kind: "repo", message: hop })
    })
  }

  /**
   * Send a control message (anything CBOR can encode, Uint8Arrays included)
   * to a connected peer. Throws {@link NotConnectedError} if it is not connected.
   */
  sendControl(peerId: PeerId, message: unknown): void {
    const entry = this.#peers.get(peerId)
    if (!entry?.connection.send({ kind: "control", message })) throw new NotConnectedError(peerId)
  }

  /** Resolves when the connection to `peerId` can take more (see `Connection.whenDrained`); at once if it is gone. */
  whenDrained(peerId: PeerId): Promise<void> {
    return this.#peers.get(peerId)?.connection.whenDrained() ?? Promise.resolve()
  }

  /** Traffic on every connection this adapter ever had, handshakes and refused ones included. */
  stats(): ConnectionStats
  /** Traffic on the open connection to `peerId`, or undefined if it is not connected. */
  stats(peerId: PeerId): ConnectionStats | undefined
  stats(peerId?: PeerId): ConnectionStats | undefined {
    if (peerId === undefined) return { ...this.#totals }
    return this.#peers.get(peerId)?.connection.stats
  }

  /** Wrap a socket with this adapter's limits and counters. */
  protected createConnection(
    socket: SocketLike,
    label: string,
    handlers: Pick<ConnectionOptions, "onOpen" | "onFrame" | "onClose">,
  ): Connection {
    return new Connection(socket, label, {
      maxFrameBytes: this.maxFrameBytes,
      ...(this.#maxBufferedBytes !== undefined ? { maxBufferedBytes: this.#maxBufferedBytes } : {}),
      keepAliveMs: this.keepAliveMs,
      totals: this.#totals,
      log: this.log,
      ...handlers,
    })
  }

  /** The open connection to a peer, if any. */
  protected connectionOf(peerId: PeerId): Connection | undefined {
    return this.#peers.get(peerId)?.connection
  }

  /** A handshake finished (agreeing on `compression`, or on none): tell the app, then the Repo. */
  protected addPeer(remote: RemotePeer, connection: Connection, compression: FrameCompression | undefined): void {
    connection.opened(compression)
    this.#peers.set(remote.peerId, { remote, connection })
    this.emitToApp("peer", { ...remote, state: "connected" } as Events["peer"])
    this.emit("peer-candidate", { peerId: remote.peerId, peerMetadata: remote.peerMetadata })
  }

  /** A welcomed connection closed: tell the Repo, then the app. Ignores a connection that was already replaced. */
  protected removePeer(peerId: PeerId, connection: Connection): void {
    const entry = this.#peers.get(peerId)
    if (entry?.connection !== connection) return
    this.#peers.delete(peerId)
    this.emit("peer-disconnected", { peerId })
    this.emitToApp("peer", { ...entry.remote, state: "disconnected" } as Events["peer"])
  }

  /** A frame on a welcomed connection. */
  protected handleFrame(remote: RemotePeer, connection: Connection, frame: Frame): void {
    switch (frame.kind) {
      case "repo": {
        const { senderId, targetId } = frame.message
        // automerge-repo trusts senderId for access decisions, so it must be
        // the id this connection was welcomed under.
        if (senderId !== remote.peerId || targetId !== this.peerId) {
          this.closeForBadFrame(connection, `repo message from ${senderId} to ${targetId} on ${remote.peerId}'s connection`)
          return
        }
        // Asked at once (what the gate takes from the messages before this one, it takes now), answered in order.
        const message = frame.message
        const verdict = this.inbound(remote, message)
        if (!(verdict instanceof Promise) && !this.#receiving.has(connection)) return this.#deliver(remote, connection, message, verdict)
        inOrder(this.#receiving, connection, async () => {
          const decided = await Promise.resolve(verdict).catch((): InboundVerdict => "drop")
          // Gone meanwhile: the Repo has forgotten the peer.
          if (this.#peers.get(remote.peerId)?.connection === connection) this.#deliver(remote, connection, message, decided)
        })
        return
      }
      case "control":
        this.emitToApp("control", { peerId: remote.peerId, connectionId: remote.connectionId, message: frame.message } as Events["control"])
        return
      case "refuse":
        this.log(`${remote.peerId} ended the connection: ${frame.reason}`)
        connection.close(CloseCode.NORMAL, frame.reason)
        return
      default:
        this.closeForBadFrame(connection, `unexpected ${frame.kind} frame after the handshake`)
    }
  }

  /** Act on the gate's verdict for a message from a peer. */
  #deliver(remote: RemotePeer, connection: Connection, message: Message, verdict: InboundVerdict): void {
    if (verdict === "pass") this.emit("message", message)
    else if (verdict === "unavailable" && "documentId" in message && this.peerId) {
      connection.send({
        kind: "repo",
        message: {
          type: "doc-unavailable",
          senderId: this.peerId,
          targetId: remote.peerId,
          documentId: message.documentId,
        } as Message,
      })
    }
  }

  /**
   * Emit one of Cairn's events. A listener that throws must not break the
   * connection's state, so its error is rethrown on its own, like an
   * uncaught error in any event handler.
   */
  protected emitToApp<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    try {
      ;(this.emit as (event: string, payload: unknown) => boolean)(event, payload)
    } catch (error) {
      queueMicrotask(() => {
        throw error
      })
    }
  }

  /** Close a connection that broke the protocol, saying why in the log and the close reason. */
  protected closeForBadFrame(connection: Connection, reason: string): void {
    this.log(`${connection.label}: closing the connection: ${reason}`)
    connection.close(CloseCode.BAD_FRAME, reason)
  }
}
