/**
 * The network side of a Node peer: a WebSocket server (127.0.0.1 by
 * default) and clients to other peers, each an automerge-repo network
 * adapter that also carries Cairn's replication messages. Wires the
 * handshake info and control messages to the Replicator.
 */
import type { Server } from "node:http"
import type { PeerId, Repo } from "@automerge/automerge-repo"
import { PROTOCOL_VERSION, type ControlMessage, type ReplicationInfo, type Replicator } from "@cairn/core"
import type { CairnClientAdapter, CairnNetworkAdapter } from "@cairn/core/network"
import { createNodeClientAdapter } from "./network/createNodeClientAdapter.js"
import { WebSocketServerTransport } from "./network/WebSocketServerTransport.js"

export interface ListenOptions {
  /** Interface to bind; 127.0.0.1 unless told otherwise. */
  host?: string
  /** Port; 0 picks a free one. Default 3030. */
  port?: number
  /** An HTTP server to share (the dashboard); one is made if absent. */
  server?: Server
}

export interface ServerAddress {
  host: string
  port: number
  /** ws://host:port */
  url: string
}

/** What a peer's hello or welcome must contain to be understood. */
export function replicationInfoOf(info: unknown): ReplicationInfo | undefined {
  const i = info as Partial<ReplicationInfo> | undefined
  if (!i || i.protocol !== PROTOCOL_VERSION || typeof i.machineId !== "string") return undefined
  if (i.wants !== "*" && !(Array.isArray(i.wants) && i.wants.every(t => typeof t === "string"))) return undefined
  return i as ReplicationInfo
}

export class PeerNetwork {
  readonly #clients = new Map<string, CairnClientAdapter>()
  #server: WebSocketServerTransport | undefined

  constructor(
    private readonly repo: Repo,
    private readonly replicator: Replicator,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** Start serving peers. */
  async listen(options: ListenOptions = {}): Promise<ServerAddress> {
    if (this.#server) throw new Error("already listening")
    const transport = new WebSocketServerTransport({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 3030,
      ...(options.server ? { server: options.server } : {}),
      log: this.log,
      accept: hello => {
        const info = replicationInfoOf(hello.info)
        if (!info) return { ok: false, reason: `unsupported hello: this peer speaks replication protocol ${PROTOCOL_VERSION}` }
        return { ok: true, info: { ...this.replicator.localInfo() } }
      },
    })
    this.#wire(transport.adapter)
    const address = await transport.listen()
    this.repo.networkSubsystem.addNetworkAdapter(transport.adapter)
    this.#server = transport
    return { host: address.host, port: address.port, url: address.url }
  }

  /** Connect to a peer's server, reconnecting with backoff until `disconnect` or `close`. */
  connect(url: string): CairnClientAdapter {
    const existing = this.#clients.get(url)
    if (existing) return existing
    const adapter = createNodeClientAdapter({ url, log: this.log, info: () => ({ ...this.replicator.localInfo() }) })
    this.#wire(adapter)
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

  /** Bytes and frames in and out, over every connection. */
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

  #wire(adapter: CairnNetworkAdapter<any>): void {
    adapter.on("peer", event => {
      if (event.state === "connected") {
        const info = replicationInfoOf(event.info)
        if (!info) return this.log(`peer ${event.peerId} sent no usable replication info; not syncing with it`)
        this.replicator.connected({
          peerId: event.peerId,
          info,
          send: (message: ControlMessage) => adapter.sendControl(event.peerId as PeerId, message),
        })
      } else {
        this.replicator.disconnected(event.peerId)
      }
    })
    adapter.on("control", event => this.replicator.receive(event.peerId, event.message))
  }
}
