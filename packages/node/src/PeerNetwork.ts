/**
 * The network side of a Node peer: a WebSocket server (127.0.0.1 by
 * default, wss:// with a certificate), a TCP server beside it if asked
 * (tcps:// with a certificate), and clients to other peers, each
 * attached to the peer (see core's peer/Attachment.ts) under this peer's
 * admission (its auth mode and trust list) and limits.
 */
import { createServer as createHttpsServer } from "node:https"
import type { Server } from "node:http"
import type { Admission, Attachment, Peer, ServerHooks } from "@cairn/core"
import type { CairnClientAdapter, CairnNetworkAdapter, FrameCompression } from "@cairn/core/network"
import { createNodeClientAdapter } from "./network/createNodeClientAdapter.js"
import { deflateCompression } from "./network/deflateCompression.js"
import { createTcpClientAdapter } from "./network/TcpClientAdapter.js"
import { TcpServerTransport } from "./network/TcpServerTransport.js"
import { WebSocketServerTransport, type ListenAddress } from "./network/WebSocketServerTransport.js"

export type { AuthMode } from "@cairn/core"

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

export interface TcpListenOptions {
  /** Interface to bind; 127.0.0.1 unless told otherwise. */
  host?: string
  /** Port; 0 picks a free one. */
  port: number
  /** Serve tcps:// (TLS) with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer }
}

/** How a link between two peers is carried. */
export type Transport = "ws" | "tcp"

/** The transport a URL dials: `ws://` and `wss://` WebSocket, `tcp://` and `tcps://` TCP. Throws a TypeError for any other. */
export function transportOfUrl(url: string): Transport {
  if (/^wss?:\/\//i.test(url)) return "ws"
  if (/^tcps?:\/\//i.test(url)) return "tcp"
  throw new TypeError(`cannot connect to ${url}: use ws://, wss://, tcp:// or tcps://`)
}

export interface ConnectOptions {
  /** Extra certificate authorities to trust for wss:// and tcps:// (PEM), e.g. a self-signed server's certificate. */
  ca?: string | Buffer
}

export interface ServerAddress {
  host: string
  port: number
  /** ws://host:port (wss:// with TLS); tcp://host:port (tcps://) for a TCP server */
  url: string
}

export class PeerNetwork {
  readonly #clients = new Map<string, Attachment<CairnClientAdapter>>()
  #server: Attachment<WebSocketServerTransport> | undefined
  #tcpServer: Attachment<TcpServerTransport> | undefined

  constructor(
    private readonly peer: Peer,
    private readonly admission: Admission,
    private readonly limits: NetworkLimits = {},
  ) {}

  /** Start serving peers over WebSocket. */
  async listen(options: ListenOptions = {}): Promise<ServerAddress> {
    if (this.#server) throw new Error("already listening")
    const server = options.server ?? (options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }) : undefined)
    const { attached, address } = await this.#serve(
      "ws",
      hooks =>
        new WebSocketServerTransport({
          host: options.host ?? "127.0.0.1",
          port: options.port ?? 3030,
          ...(server ? { server: server as Server } : {}),
          ...this.#adapterOptions(),
          ...hooks,
        }),
    )
    this.#server = attached
    const url = options.tls ? address.url.replace(/^ws:/, "wss:") : address.url
    return { host: address.host, port: address.port, url }
  }

  /** Start serving peers over TCP as well (tcps:// with a certificate): the same admission, grants and limits. */
  async listenTcp(options: TcpListenOptions): Promise<ServerAddress> {
    if (this.#tcpServer) throw new Error("already listening on TCP")
    const { attached, address } = await this.#serve(
      "tcp",
      hooks =>
        new TcpServerTransport({
          host: options.host ?? "127.0.0.1",
          port: options.port,
          ...(options.tls ? { tls: options.tls } : {}),
          ...this.#adapterOptions(),
          ...hooks,
        }),
    )
    this.#tcpServer = attached
    return address
  }

  async #serve<T extends WebSocketServerTransport | TcpServerTransport>(
    transport: Transport,
    build: (hooks: ServerHooks) => T,
  ): Promise<{ attached: Attachment<T>; address: ListenAddress }> {
    const attached = this.peer.serve(build, this.#attachOptions(transport))
    try {
      return { attached, address: await attached.transport.listen() }
    } catch (error) {
      attached.detach()
      throw error
    }
  }

  /**
   * Connect to a peer's server (ws://, wss://, tcp:// or tcps://), reconnecting with backoff until
   * `disconnect` or `close`. Throws a TypeError for a URL of another kind.
   */
  connect(url: string, options: ConnectOptions = {}): CairnClientAdapter {
    const existing = this.#clients.get(url)
    if (existing) return existing.transport
    const create = transportOfUrl(url) === "tcp" ? createTcpClientAdapter : createNodeClientAdapter
    const attached = this.peer.dial(
      hooks => create({ url, ...(options.ca ? { ca: options.ca } : {}), ...this.#adapterOptions(), ...hooks }),
      this.#attachOptions(transportOfUrl(url)),
    )
    this.#clients.set(url, attached)
    return attached.transport
  }

  /** Stop connecting to `url`. */
  disconnect(url: string): void {
    const attached = this.#clients.get(url)
    if (!attached) return
    this.#clients.delete(url)
    attached.detach()
  }

  /** The client connections, with their status. */
  clients(): { url: string; transport: Transport; status: string; refusal?: string }[] {
    return [...this.#clients].map(([url, { transport }]) => ({
      url,
      transport: transportOfUrl(url),
      status: transport.status,
      ...(transport.refusalReason ? { refusal: transport.refusalReason } : {}),
    }))
  }

  /** The transport of the open connection to `peerId`, in or out; undefined if it has none. */
  transportOf(peerId: string): Transport | undefined {
    if (this.#server?.adapter.peers.some(peer => peer.peerId === peerId)) return "ws"
    if (this.#tcpServer?.adapter.peers.some(peer => peer.peerId === peerId)) return "tcp"
    for (const [url, { transport }] of this.#clients) if (transport.remotePeerId === peerId) return transportOfUrl(url)
    return undefined
  }

  /** Bytes in and out, over every connection. */
  traffic(): { bytesIn: number; bytesOut: number } {
    let bytesIn = 0
    let bytesOut = 0
    for (const { adapter } of [...this.#clients.values(), ...this.#servers()] as {
      adapter: CairnNetworkAdapter<any>
    }[]) {
      const stats = adapter.stats()
      bytesIn += stats.bytesIn
      bytesOut += stats.bytesOut
    }
    return { bytesIn, bytesOut }
  }

  async close(): Promise<void> {
    for (const url of [...this.#clients.keys()]) this.disconnect(url)
    const servers = this.#servers()
    this.#server = undefined
    this.#tcpServer = undefined
    for (const server of servers) server.detach()
    await Promise.all(servers.map(server => server.transport.close()))
  }

  /** The trust list changed: close the connections it would now admit otherwise (see Attachment.recheckAdmissions). */
  recheckAdmissions(): void {
    for (const server of this.#servers()) server.recheckAdmissions()
  }

  #servers(): Attachment<WebSocketServerTransport | TcpServerTransport>[] {
    return [this.#server, this.#tcpServer].filter(server => server !== undefined)
  }

  #attachOptions(transport: Transport): { admission: Admission; messagesPerSecond: number; transport: Transport } {
    return { admission: this.admission, messagesPerSecond: this.limits.messagesPerSecond ?? 2000, transport }
  }

  /** Every connection offers deflate: an older peer, or a browser (which has no codec yet), just does not take it. */
  #adapterOptions(): { maxFrameBytes?: number; maxBufferedBytes?: number; compression: FrameCompression } {
    return {
      compression: deflateCompression,
      ...(this.limits.maxFrameBytes ? { maxFrameBytes: this.limits.maxFrameBytes } : {}),
      ...(this.limits.maxBufferedBytes ? { maxBufferedBytes: this.limits.maxBufferedBytes } : {}),
    }
  }
}
