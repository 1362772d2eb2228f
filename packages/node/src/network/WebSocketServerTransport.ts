import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"
import { DEFAULT_MAX_FRAME_BYTES, type CairnServerAdapterOptions } from "@cairn/core/network"
import { WebSocketServer } from "ws"
import { closeAll, HANDSHAKE_BYTES, ListeningTransport, listenOn, type ListenAddress } from "./ListeningTransport.js"

export type { ListenAddress } from "./ListeningTransport.js"

export interface WebSocketServerTransportOptions extends CairnServerAdapterOptions {
  /** Interface to listen on. Default 127.0.0.1: reachable from this machine only. */
  readonly host?: string
  /** Port to listen on; 0 picks a free one (`listen()` reports it). Default 0. */
  readonly port?: number
  /**
   * An HTTP server to share (the dashboard's, for example) instead of making
   * one. `listen()` starts it on host/port unless it is already listening;
   * `close()` leaves it running.
   */
  readonly server?: Server
  /**
   * Only upgrade requests for this path are taken, e.g. "/sync"; others are
   * left to the server's other upgrade handlers. Default: every path.
   */
  readonly path?: string
}

/**
 * Cairn's WebSocket server for Node: accepts sockets with `ws` and hands
 * them to a CairnServerAdapter, which is what the Repo gets
 * (`new Repo({ network: [transport.adapter] })`). Sockets that arrive
 * before the Repo starts wait for it.
 */
export class WebSocketServerTransport extends ListeningTransport {
  readonly #options: WebSocketServerTransportOptions
  #running: { server: Server; owned: boolean; wss: WebSocketServer; onUpgrade: UpgradeHandler } | undefined

  constructor(options: WebSocketServerTransportOptions) {
    super(options)
    this.#options = options
  }

  protected async start(): Promise<ListenAddress> {
    const { host = "127.0.0.1", port = 0, path } = this.#options
    const owned = this.#options.server === undefined
    const server = this.#options.server ?? createServer(refuseHttp)
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.#options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES })
    const onUpgrade: UpgradeHandler = (request, socket, head) => {
      if (path !== undefined && pathOf(request) !== path) {
        // A shared server's other handlers may want this request; our own server has none.
        if (owned) socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n")
        return
      }
      // ws buffers a whole message (up to maxPayload) before we see it; until the handshake is done a socket
      // may send only what a handshake needs, counted on the raw bytes as they arrive.
      let received = head.byteLength
      const count = (chunk: Buffer) => {
        received += chunk.byteLength
        if (received > HANDSHAKE_BYTES) socket.destroy()
      }
      socket.on("data", count)
      wss.handleUpgrade(request, socket, head, ws => {
        void this.adapter.acceptSocket(ws, { address: request.socket.remoteAddress }).then(() => socket.off("data", count))
      })
    }
    server.on("upgrade", onUpgrade)
    if (!server.listening) {
      try {
        await listenOn(server, port, host)
      } catch (error) {
        server.off("upgrade", onUpgrade)
        throw error
      }
    }
    this.#running = { server, owned, wss, onUpgrade }
    const address = server.address() as AddressInfo
    const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address
    return { host: address.address, port: address.port, url: `ws://${urlHost}:${address.port}${path ?? "/"}` }
  }

  protected async stop(): Promise<void> {
    const running = this.#running
    if (!running) return
    this.#running = undefined
    running.server.off("upgrade", running.onUpgrade)
    await closeAll([...running.wss.clients])
    await new Promise<void>(resolve => running.wss.close(() => resolve()))
    if (running.owned) {
      const stopped = new Promise<void>(resolve => running.server.close(() => resolve()))
      running.server.closeAllConnections()
      await stopped
    }
  }
}

type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void

function refuseHttp(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(426, { "Content-Type": "text/plain", Upgrade: "websocket" })
  response.end("This is a Cairn WebSocket endpoint.\n")
}

function pathOf(request: IncomingMessage): string | undefined {
  try {
    return new URL(request.url ?? "/", "http://localhost").pathname
  } catch {
    return undefined
  }
}
