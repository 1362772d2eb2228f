/**
 * The network side of a Node peer: a WebSocket server (127.0.0.1 by
 * default, wss:// with a certificate) and clients to other peers, each
 * attached to the peer (see core's peer/Attachment.ts) under this peer's
 * admission (its auth mode and trust list) and limits.
 */
import { createServer as createHttpsServer } from "node:https"
import type { Server } from "node:http"
import type { Admission, Attachment, Peer } from "@cairn/core"
import type { CairnClientAdapter, CairnNetworkAdapter, FrameCompression } from "@cairn/core/network"
import { createNodeClientAdapter } from "./network/createNodeClientAdapter.js"
import { deflateCompression } from "./network/deflateCompression.js"
import { WebSocketServerTransport } from "./network/WebSocketServerTransport.js"

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

export class PeerNetwork {
  readonly #clients = new Map<string, Attachment<CairnClientAdapter>>()
  #server: Attachment<WebSocketServerTransport> | undefined

  constructor(
    private readonly peer: Peer,
    private readonly admission: Admission,
    private readonly limits: NetworkLimits = {},
  ) {}

  /** Start serving peers. */
  async listen(options: ListenOptions = {}): Promise<ServerAddress> {
    if (this.#server) throw new Error("already listening")
    const server = options.server ?? (options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }) : undefined)
    const attached = this.peer.serve(
      hooks =>
        new WebSocketServerTransport({
          host: options.host ?? "127.0.0.1",
          port: options.port ?? 3030,
          ...(server ? { server: server as Server } : {}),
          ...this.#adapterOptions(),
          ...hooks,
        }),
      this.#attachOptions(),
    )
    let address: Awaited<ReturnType<typeof attached.transport.listen>>
    try {
      address = await attached.transport.listen()
    } catch (error) {
      attached.detach()
      throw error
    }
    this.#server = attached
    const url = options.tls ? address.url.replace(/^ws:/, "wss:") : address.url
    return { host: address.host, port: address.port, url }
  }

  /** Connect to a peer's server, reconnecting with backoff until `disconnect` or `close`. */
  connect(url: string, options: ConnectOptions = {}): CairnClientAdapter {
    const existing = this.#clients.get(url)
    if (existing) return existing.transport
    const attached = this.peer.dial(
      hooks => createNodeClientAdapter({ url, ...(options.ca ? { ca: options.ca } : {}), ...this.#adapterOptions(), ...hooks }),
      this.#attachOptions(),
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
  clients(): { url: string; status: string; refusal?: string }[] {
    return [...this.#clients].map(([url, { transport }]) => ({
      url,
      status: transport.status,
      ...(transport.refusalReason ? { refusal: transport.refusalReason } : {}),
    }))
  }

  /** Bytes in and out, over every connection. */
  traffic(): { bytesIn: number; bytesOut: number } {
    let bytesIn = 0
    let bytesOut = 0
    for (const { adapter } of [...this.#clients.values(), ...(this.#server ? [this.#server] : [])] as {
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
    const server = this.#server
    this.#server = undefined
    if (!server) return
    server.detach()
    await server.transport.close()
  }

  #attachOptions(): { admission: Admission; messagesPerSecond: number } {
    return { admission: this.admission, messagesPerSecond: this.limits.messagesPerSecond ?? 2000 }
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
