/**
 * The network side of a Node peer: a WebSocket server (127.0.0.1 by
 * default) and clients to other peers, each an automerge-repo network
 * adapter that also carries Cairn's replication messages. Here the
 * handshake is authenticated (see core/src/auth/handshake.ts), a machine's
 * grants from the trust list become the replicator's read/write decisions,
 * write grants are enforced on automerge-repo's live sync too, and each
 * connection is held to its limits.
 */
import { createServer as createHttpsServer } from "node:https"
import type { Server } from "node:http"
import type { Message, PeerId, Repo } from "@automerge/automerge-repo"
import {
  PROTOCOL_VERSION,
  checkIdentity,
  clientAnswer,
  newNonce,
  serverAuthenticate,
  type ControlMessage,
  type Grants,
  type MachineIdentity,
  type Prover,
  type ReplicationInfo,
  type Replicator,
} from "@cairn/core"
import type { CairnClientAdapter, CairnNetworkAdapter, InboundVerdict, RemotePeer } from "@cairn/core/network"
import { createNodeClientAdapter } from "./network/createNodeClientAdapter.js"
import { WebSocketServerTransport } from "./network/WebSocketServerTransport.js"
import type { TrustList } from "./TrustList.js"
import { RateLimiter } from "./RateLimiter.js"

/**
 * How peers prove who they are.
 * - `open`: no authentication; every peer may read and write everything (local development).
 * - `trust`: machines prove their ed25519 key; only machines in the trust list get in, with their grants.
 * - `psk`: every machine that knows the shared secret gets in, with every grant (a household's devices).
 */
export type AuthMode = { mode: "open" } | { mode: "trust" } | { mode: "psk"; secret: string }

export interface NetworkLimits {
  /** Largest frame accepted, in bytes (default 64 MiB). */
  maxFrameBytes?: number
  /** Open connections one machine may have to this server (default 8). */
  connectionsPerMachine?: number
  /** Messages per second one connection may send, sustained (default 2,000; bursts of 10x). */
  messagesPerSecond?: number
  /** Unsent bytes one connection may hold before its producers wait; a peer that leaves twice this unread is disconnected (default 16 MiB). */
  maxBufferedBytes?: number
}

export interface ListenOptions {
  /** Interface to bind; 127.0.0.1 unless told otherwise. */
  host?: string
  /** Port; 0 picks a free one. Default 3030. */
  port?: number
  /** An HTTP(S) server to share (the dashboard); one is made if absent. */
  server?: Server
  /** Serve wss:// with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer }
}

export interface ConnectOptions {
  /** Extra certificate authorities to trust for wss:// (PEM), e.g. a self-signed server's certificate. */
  ca?: string | Buffer
}

export interface ServerAddress {
  host: string
  port: number
  /** ws://host:port (wss:// with TLS) */
  url: string
}

/** What a peer's hello or welcome must contain to be understood. */
export function replicationInfoOf(info: unknown): ReplicationInfo | undefined {
  const i = info as Partial<ReplicationInfo> | undefined
  if (!i || i.protocol !== PROTOCOL_VERSION || typeof i.machineId !== "string") return undefined
  if (i.wants !== "*" && !(Array.isArray(i.wants) && i.wants.every(t => typeof t === "string"))) return undefined
  return i as ReplicationInfo
}

const ALL: Grants = { read: "*", write: "*" }

/** What one admitted connection may do: decided once, at its handshake, and owned by that connection alone. */
interface Admission {
  machineId: string
  grants: Grants
}

export class PeerNetwork {
  readonly #clients = new Map<string, CairnClientAdapter>()
  /** Rate limits by connection (`RemotePeer.connectionId`), never by the peer id a second connection could reuse. */
  readonly #limiters = new Map<number, RateLimiter>()
  #server: WebSocketServerTransport | undefined

  constructor(
    private readonly repo: Repo,
    private readonly replicator: Replicator,
    private readonly machine: MachineIdentity,
    private readonly auth: AuthMode,
    private readonly trust: TrustList,
    private readonly limits: NetworkLimits = {},
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** Start serving peers. */
  async listen(options: ListenOptions = {}): Promise<ServerAddress> {
    if (this.#server) throw new Error("already listening")
    const server = options.server ?? (options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }) : undefined)
    const transport: WebSocketServerTransport = new WebSocketServerTransport({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 3030,
      ...(server ? { server: server as Server } : {}),
      ...this.#adapterLimits(),
      log: this.log,
      inbound: (peer: RemotePeer, message: Message) => this.#inbound(transport.adapter, peer, message),
      accept: async (hello, _remote, exchange) => {
        const info = replicationInfoOf(hello.info)
        if (!info) return { ok: false, reason: `unsupported hello: this peer speaks replication protocol ${PROTOCOL_VERSION}` }
        const decision = await this.#admit(hello.peerId, info, hello.info as Record<string, unknown>, exchange)
        if (!decision.ok) return decision
        const session: Admission = { machineId: info.machineId, grants: decision.grants }
        return { ok: true, info: { ...this.replicator.localInfo(), publicKey: this.machine.publicKey }, session }
      },
    })
    this.#wire(transport.adapter)
    const address = await transport.listen()
    this.repo.networkSubsystem.addNetworkAdapter(transport.adapter)
    this.#server = transport
    const url = options.tls ? address.url.replace(/^ws:/, "wss:") : address.url
    return { host: address.host, port: address.port, url }
  }

  async #admit(
    peerId: string,
    info: ReplicationInfo,
    hello: Record<string, unknown>,
    exchange: { send(message: unknown): void; receive(): Promise<unknown> },
  ): Promise<{ ok: true; grants: Grants } | { ok: false; reason: string }> {
    const connections = (this.#server?.adapter.peers ?? []).filter(peer => (peer.session as Admission | undefined)?.machineId === info.machineId && peer.peerId !== peerId)
    if (connections.length >= (this.limits.connectionsPerMachine ?? 8)) return { ok: false, reason: `machine ${info.machineId} already has ${connections.length} connections here` }
    if (this.auth.mode === "open") return { ok: true, grants: ALL }
    const problem = await checkIdentity(info.machineId, hello.publicKey, peerId)
    if (problem) return { ok: false, reason: `authentication failed: ${problem}` }
    const publicKey = hello.publicKey as string
    const trusted = this.trust.get(publicKey)
    if (this.auth.mode === "trust" && !trusted) {
      return { ok: false, reason: `machine ${info.machineId} is not trusted here; on the server run: cairn trust ${publicKey} --read TYPES --write TYPES` }
    }
    if (typeof hello.nonce !== "string") return { ok: false, reason: "authentication failed: no nonce in the hello" }
    const reason = await serverAuthenticate(this.#prover(), { publicKey, nonce: hello.nonce }, exchange)
    if (reason) return { ok: false, reason: `authentication failed: ${reason}` }
    this.trust.seen(publicKey)
    if (!trusted) return { ok: true, grants: ALL }
    if (isEmpty(trusted.read) && isEmpty(trusted.write)) {
      return { ok: false, reason: `machine ${info.machineId} is trusted here but may read and write nothing; on the server run: cairn trust ${publicKey} --read TYPES --write TYPES` }
    }
    return { ok: true, grants: { read: trusted.read, write: trusted.write } }
  }

  #prover(): Prover {
    return this.auth.mode === "psk" ? { kind: "psk", machine: this.machine, secret: this.auth.secret } : { kind: "key", machine: this.machine }
  }

  /** Connect to a peer's server, reconnecting with backoff until `disconnect` or `close`. */
  connect(url: string, options: ConnectOptions = {}): CairnClientAdapter {
    const existing = this.#clients.get(url)
    if (existing) return existing
    let nonce = newNonce()
    let serverKey: string | undefined
    const adapter: CairnClientAdapter = createNodeClientAdapter({
      url,
      log: this.log,
      ...(options.ca ? { ca: options.ca } : {}),
      ...this.#adapterLimits(),
      inbound: (peer: RemotePeer, message: Message) => this.#inbound(adapter, peer, message),
      info: () => {
        nonce = newNonce()
        return { ...this.replicator.localInfo(), publicKey: this.machine.publicKey, nonce }
      },
      answerAuth: message =>
        clientAnswer(this.#prover(), { publicKey: this.machine.publicKey, nonce }, message, (_, publicKey) => {
          serverKey = publicKey
          return this.auth.mode !== "trust" || this.trust.get(publicKey) !== undefined
        }),
      // A server in open mode asks for no proof, so we cannot know whom we reached: a peer that syncs only with trusted machines does not go on.
      checkWelcome: () => {
        if (this.auth.mode !== "trust") return undefined
        const trusted = serverKey ? this.trust.get(serverKey) : undefined
        if (!trusted) return `${url} did not prove its identity; this peer only syncs with trusted machines`
        if (isEmpty(trusted.read) && isEmpty(trusted.write)) return `${url} is trusted here but may read and write nothing`
        return undefined
      },
    })
    this.#wire(adapter, () => {
      if (this.auth.mode !== "trust") return ALL
      const trusted = this.trust.get(serverKey!)!
      this.trust.seen(trusted.publicKey)
      return { read: trusted.read, write: trusted.write }
    })
    this.#clients.set(url, adapter)
    this.repo.networkSubsystem.addNetworkAdapter(adapter)
    return adapter
  }

  /** Stop connecting to `url`. */
  disconnect(url: string): void {
    const adapter = this.#clients.get(url)
    if (!adapter) return
    this.#clients.delete(url)
    this.repo.networkSubsystem.removeNetworkAdapter(adapter)
    adapter.disconnect()
  }

  /** The client connections, with their status. */
  clients(): { url: string; status: string; refusal?: string }[] {
    return [...this.#clients].map(([url, adapter]) => ({ url, status: adapter.status, ...(adapter.refusalReason ? { refusal: adapter.refusalReason } : {}) }))
  }

  /** Bytes in and out, over every connection. */
  traffic(): { bytesIn: number; bytesOut: number } {
    let bytesIn = 0
    let bytesOut = 0
    for (const adapter of [...this.#clients.values(), ...(this.#server ? [this.#server.adapter] : [])] as CairnNetworkAdapter<any>[]) {
      const stats = adapter.stats()
      if (stats) {
        bytesIn += stats.bytesIn
        bytesOut += stats.bytesOut
      }
    }
    return { bytesIn, bytesOut }
  }

  async close(): Promise<void> {
    for (const url of [...this.#clients.keys()]) this.disconnect(url)
    const server = this.#server
    this.#server = undefined
    if (!server) return
    this.repo.networkSubsystem.removeNetworkAdapter(server.adapter)
    await server.close()
  }

  #adapterLimits(): { maxFrameBytes?: number; maxBufferedBytes?: number } {
    return {
      ...(this.limits.maxFrameBytes ? { maxFrameBytes: this.limits.maxFrameBytes } : {}),
      ...(this.limits.maxBufferedBytes ? { maxBufferedBytes: this.limits.maxBufferedBytes } : {}),
    }
  }

  /**
   * Every automerge-repo message from a peer passes here first, whatever its
   * kind: over its connection's rate limit, the connection is closed;
   * otherwise the replicator's gate decides (grants, hidden documents).
   */
  #inbound(adapter: CairnNetworkAdapter<any>, peer: RemotePeer, message: Message): InboundVerdict {
    if (!this.#allowRate(adapter, peer)) return "drop"
    return this.replicator.admitRepoMessage(peer.peerId, message)
  }

  #allowRate(adapter: CairnNetworkAdapter<any>, peer: { peerId: PeerId; connectionId: number }): boolean {
    let limiter = this.#limiters.get(peer.connectionId)
    if (!limiter) {
      const rate = this.limits.messagesPerSecond ?? 2000
      this.#limiters.set(peer.connectionId, (limiter = new RateLimiter(rate, rate * 10)))
    }
    if (limiter.take()) return true
    adapter.closePeer(peer.peerId, `more than ${this.limits.messagesPerSecond ?? 2000} messages per second`)
    return false
  }

  /**
   * Replication sessions follow the adapter's connections. Grants come from
   * the connection's own admission (a server's accept hook) or, on a client,
   * from `clientGrants` at its welcome; nothing keyed by peer id outlives
   * the connection that made it.
   */
  #wire(adapter: CairnNetworkAdapter<any>, clientGrants?: () => Grants): void {
    adapter.on("peer", event => {
      if (event.state === "connected") {
        const info = replicationInfoOf(event.info)
        if (!info) return this.log(`peer ${event.peerId} sent no usable replication info; not syncing with it`)
        const grants = clientGrants ? clientGrants() : ((event.session as Admission | undefined)?.grants ?? ALL)
        this.replicator.connected({
          peerId: event.peerId,
          info,
          grants,
          connectionId: event.connectionId,
          send: (message: ControlMessage) => adapter.sendControl(event.peerId as PeerId, message),
          whenDrained: () => adapter.whenDrained(event.peerId as PeerId),
        })
      } else {
        this.replicator.disconnected(event.peerId, event.connectionId)
        this.#limiters.delete(event.connectionId)
      }
    })
    adapter.on("control", event => {
      if (this.#allowRate(adapter, event)) this.replicator.receive(event.peerId, event.message)
    })
  }
}

function isEmpty(selection: Grants["read"]): boolean {
  return selection !== "*" && selection.length === 0
}
