/**
 * One transport attached to a running peer: a Cairn network adapter (a
 * client or a server, over any socket) built with the peer's hooks, so
 * that every connection on it is admitted (see auth/Admission.ts), every
 * automerge-repo message it carries passes the replicator's gate and the
 * connection's rate limit, and each welcomed peer gets a replication
 * session with the grants its admission decided.
 */
import type { Message, PeerId, Repo } from "@automerge/automerge-repo"
import { ALL_GRANTS, replicationInfoOf, type Admission, type Admitted } from "../auth/Admission.js"
import type { Logger } from "../helpers/Logger.js"
import { RateLimiter } from "../helpers/RateLimiter.js"
import type { CairnClientAdapter } from "../network/CairnClientAdapter.js"
import type { CairnNetworkAdapter, ControlEvent, InboundVerdict, PeerEvent, RemotePeer } from "../network/CairnNetworkAdapter.js"
import type { AcceptHook, CairnServerAdapter } from "../network/CairnServerAdapter.js"
import type { HelloInfo, PeerInfo } from "../network/frames.js"
import type { Replicator } from "../replication/Replicator.js"
import { PROTOCOL_VERSION, type ControlMessage, type Grants, type TypeSelection } from "../replication/protocol.js"
import { CloseCode } from "../network/closeCodes.js"

export interface AttachOptions {
  /**
   * Who may connect and with which grants, and how this side proves itself.
   * Without it every peer is welcomed with every grant and nothing is
   * proven: for links inside one trust boundary (the tabs of one browser).
   */
  readonly admission?: Admission
  /**
   * `per-peer`: each peer gets a replicator of its own, made when it
   * connects and closed when it leaves. For the tab links: every tab of a
   * browser has the same machine id, and replication keeps one checkpoint
   * per machine id, so follower tabs (each with its own in-memory catalog)
   * sharing one replicator would overwrite each other's checkpoints and
   * turn every pull into a full listing. Default `shared`.
   */
  readonly replicators?: "shared" | "per-peer"
  /** Messages per second one connection may send, sustained (bursts of 10x); past it the connection is closed. Default: no limit. */
  readonly messagesPerSecond?: number
  /** How the links of this attachment are carried ("ws", "tcp"), as presence tells other machines. */
  readonly transport?: string
}

/** What every attached adapter is built with (spread into its options). */
interface Hooks {
  readonly inbound: (peer: RemotePeer, message: Message) => InboundVerdict | Promise<InboundVerdict>
  readonly outbound: (peer: RemotePeer, message: Message) => (() => Promise<unknown>) | undefined
  readonly log: Logger
}

/** What an attached server adapter is built with. */
export interface ServerHooks extends Hooks {
  readonly accept: AcceptHook
}

/** What an attached client adapter is built with. */
export interface ClientHooks extends Hooks {
  readonly info: () => HelloInfo
  readonly answerAuth?: (message: unknown) => Promise<unknown>
  readonly checkWelcome?: (info: PeerInfo) => string | undefined
}

/** A server transport is its adapter, or owns one (a WebSocket server's listening socket, say). */
export type ServerTransport = CairnServerAdapter | { readonly adapter: CairnServerAdapter }

/** The peer as an attachment sees it. */
export interface AttachablePeer {
  readonly repo: Repo
  readonly replicator: Replicator
  readonly logger: Logger
  /** Start a replicator of this peer's own for `peerId` (see `AttachOptions.replicators`). */
  startOwnReplicator(peerId: string): Replicator
  /** The replicator of `peerId`'s own, if it has one. */
  ownReplicator(peerId: string): Replicator | undefined
  /** Close `peerId`'s own replicator, if it has one. */
  endOwnReplicator(peerId: string): void
  /** The attachment is gone. */
  detached(attachment: Attachment<unknown>): void
}

export class Attachment<T> {
  readonly transport: T
  readonly adapter: CairnNetworkAdapter<any>
  readonly #peer: AttachablePeer
  readonly #options: AttachOptions
  readonly #log: Logger
  /** By connection (`RemotePeer.connectionId`), never by the peer id a second connection could reuse. */
  readonly #limiters = new Map<number, RateLimiter>()
  readonly #grantsOf: (event: PeerEvent) => Admitted["grants"]
  #detached = false

  private constructor(
    peer: AttachablePeer,
    options: AttachOptions,
    build: (attachment: Attachment<T>) => { transport: T; grantsOf: (event: PeerEvent) => Admitted["grants"] },
  ) {
    this.#peer = peer
    this.#options = options
    this.#log = peer.logger.child("network")
    const built = build(this)
    this.transport = built.transport
    this.#grantsOf = built.grantsOf
    const transport = built.transport as unknown as ServerTransport
    this.adapter = "adapter" in transport ? transport.adapter : transport
    this.adapter.on("peer", this.#onPeer)
    this.adapter.on("control", this.#onControl)
    peer.repo.networkSubsystem.addNetworkAdapter(this.adapter)
  }

  /** Attach a server transport built by `build` with the peer's hooks. */
  static serve<T extends ServerTransport>(
    peer: AttachablePeer,
    build: (hooks: ServerHooks) => T,
    options: AttachOptions = {},
  ): Attachment<T> {
    return new Attachment<T>(peer, options, attachment => ({
      transport: build({ inbound: attachment.#inbound, outbound: attachment.#outbound, log: attachment.#log, accept: attachment.#accept }),
      grantsOf: event => (event.session as Admitted | undefined)?.grants ?? ALL_GRANTS,
    }))
  }

  /** Attach a client adapter built by `build` with the peer's hooks. */
  static dial<T extends CairnClientAdapter>(
    peer: AttachablePeer,
    build: (hooks: ClientHooks) => T,
    options: AttachOptions = {},
  ): Attachment<T> {
    const client = options.admission?.client()
    return new Attachment<T>(peer, options, attachment => {
      const hooks: ClientHooks = {
        inbound: attachment.#inbound,
        outbound: attachment.#outbound,
        log: attachment.#log,
        info: () => (client ? client.info(peer.replicator.localInfo()) : { ...peer.replicator.localInfo() }),
        ...(client
          ? {
              answerAuth: message => client.answerAuth(message),
              checkWelcome: () => client.checkWelcome((attachment.adapter as CairnClientAdapter).url),
            }
          : {}),
      }
      return { transport: build(hooks), grantsOf: () => client?.grants() ?? ALL_GRANTS }
    })
  }

  /**
   * The trust list changed: close every connection whose admission it would now decide otherwise (the machine
   * removed: refused; its grants changed: closed so that it reconnects and is admitted with the new ones). A
   * connection keeps the grants it was admitted with, so without this a removed machine would keep reading and
   * writing until it disconnected. A client's attachment has nothing to recheck.
   */
  recheckAdmissions(): void {
    const admission = this.#options.admission
    if (!admission) return
    for (const remote of this.adapter.peers) {
      const session = remote.session as Admitted | undefined
      if (!session) continue
      const now = admission.recheck(session)
      if (!now.ok) this.adapter.closePeer(remote.peerId, now.reason)
      else if (!sameGrants(now.grants, session.grants))
        this.adapter.closePeer(remote.peerId, "its grants changed here; reconnect to be admitted with the new ones", CloseCode.GOING_AWAY)
    }
  }

  /** End this transport's sessions and take its adapter off the Repo, which disconnects it. Safe to call twice. */
  detach(): void {
    if (this.#detached) return
    this.#detached = true
    this.adapter.off("peer", this.#onPeer)
    this.adapter.off("control", this.#onControl)
    for (const remote of this.adapter.peers) this.#end(remote)
    this.#peer.repo.networkSubsystem.removeNetworkAdapter(this.adapter)
    this.#peer.detached(this)
  }

  get #perPeer(): boolean {
    return this.#options.replicators === "per-peer"
  }

  #replicatorOf(peerId: string): Replicator | undefined {
    return this.#perPeer ? this.#peer.ownReplicator(peerId) : this.#peer.replicator
  }

  readonly #accept: AcceptHook = async (hello, _remote, exchange) => {
    const info = replicationInfoOf(hello.info)
    if (!info) return { ok: false, reason: `unsupported hello: this peer speaks replication protocol ${PROTOCOL_VERSION}` }
    const admission = this.#options.admission
    if (!admission) return { ok: true, info: { ...this.#peer.replicator.localInfo() } }
    const decision = await admission.admit(hello.peerId, info, exchange, this.adapter.peers)
    if (!decision.ok) return decision
    const session: Admitted = {
      machineId: info.machineId,
      grants: decision.grants,
      ...(decision.publicKey === undefined ? {} : { publicKey: decision.publicKey }),
    }
    return { ok: true, info: { ...this.#peer.replicator.localInfo(), publicKey: admission.publicKey }, session }
  }

  /**
   * Every automerge-repo message from a peer passes here first, whatever its
   * kind: over its connection's rate limit, the connection is closed;
   * otherwise the replicator's gate decides (grants, hidden documents).
   */
  readonly #inbound = (peer: RemotePeer, message: Message): InboundVerdict | Promise<InboundVerdict> => {
    if (!this.#allowRate(peer)) return "drop"
    return this.#replicatorOf(peer.peerId)?.admitRepoMessage(peer.peerId, message) ?? "drop"
  }

  /** Every automerge-repo message to a peer passes here first: the vouches for the changes it carries go before it. */
  readonly #outbound = (peer: RemotePeer, message: Message): (() => Promise<unknown>) | undefined =>
    this.#replicatorOf(peer.peerId)?.outbound(peer.peerId, message)

  /**
   * Replication sessions follow the adapter's connections, with the grants
   * of the connection's own admission; nothing keyed by peer id outlives the
   * connection that made it.
   */
  readonly #onPeer = (event: PeerEvent): void => {
    if (this.#perPeer) this.#peer.endOwnReplicator(event.peerId)
    if (event.state !== "connected") return this.#end(event)
    const info = replicationInfoOf(event.info)
    if (!info) return this.#log.info(`peer ${event.peerId} sent no usable replication info; not syncing with it`)
    const replicator = this.#perPeer ? this.#peer.startOwnReplicator(event.peerId) : this.#peer.replicator
    replicator.connected({
      peerId: event.peerId,
      info,
      grants: this.#grantsOf(event),
      connectionId: event.connectionId,
      ...(this.#options.transport ? { transport: this.#options.transport } : {}),
      send: (message: ControlMessage) => this.adapter.sendControl(event.peerId as PeerId, message),
      whenDrained: () => this.adapter.whenDrained(event.peerId as PeerId),
    })
  }

  readonly #onControl = (event: ControlEvent): void => {
    if (this.#allowRate(event)) this.#replicatorOf(event.peerId)?.receive(event.peerId, event.message)
  }

  #end(remote: { peerId: string; connectionId: number }): void {
    if (this.#perPeer) this.#peer.endOwnReplicator(remote.peerId)
    else this.#peer.replicator.disconnected(remote.peerId, remote.connectionId)
    this.#limiters.delete(remote.connectionId)
  }

  #allowRate(peer: { peerId: PeerId; connectionId: number }): boolean {
    const rate = this.#options.messagesPerSecond
    if (rate === undefined) return true
    let limiter = this.#limiters.get(peer.connectionId)
    if (!limiter) this.#limiters.set(peer.connectionId, (limiter = new RateLimiter(rate, rate * 10)))
    if (limiter.take()) return true
    this.adapter.closePeer(peer.peerId, `more than ${rate} messages per second`)
    return false
  }
}

function sameGrants(a: Grants, b: Grants): boolean {
  const key = (selection: TypeSelection) => (selection === "*" ? "*" : JSON.stringify([...selection].sort()))
  return key(a.read) === key(b.read) && key(a.write) === key(b.write)
}
