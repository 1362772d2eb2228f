import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo, Server as NetServer } from "node:net"
import type { Duplex } from "node:stream"
import { CairnServerAdapter, CloseCode, DEFAULT_MAX_FRAME_BYTES, type CairnServerAdapterOptions } from "@cairn/core/network"
import { WebSocketServer } from "ws"

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

/** Where a transport listens. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
  /** The `ws://` URL a client connects to. */
  readonly url: string
}

/** Raw bytes a socket may send before its handshake is done (a hello and a few auth rounds take a few kilobytes). */
export const HANDSHAKE_BYTES = 256 * 1024

/** How long `close()` waits for clients to finish the closing handshake before cutting them off. */
const CLOSE_GRACE_MS = 1_000

/**
 * Cairn's WebSocket server for Node: accepts sockets with `ws` and hands
 * them to {@link CairnServerAdapter}, which is what the Repo gets
 * (`new Repo({ network: [transport.adapter] })`). Sockets that arrive
 * before the Repo starts wait for it.
 */
export class WebSocketServerTransport {
  /** The NetworkAdapter to give the Repo. */
  readonly adapter: CairnServerAdapter
  readonly #options: WebSocketServerTransportOptions
  #running: { server: Server; owned: boolean; wss: WebSocketServer; onUpgrade: UpgradeHandler } | undefined
  #address: ListenAddress | undefined
  #listening: Promise<ListenAddress> | undefined

  constructor(options: WebSocketServerTransportOptions) {
    this.#options = options
    this.adapter = new CairnServerAdapter(options)
  }

  /** Where it listens, once `listen()` resolved; undefined after `close()`. */
  get address(): ListenAddress | undefined {
    return this.#address
  }

  /**
   * Start accepting connections and report the real address (the chosen
   * port when asked for port 0). Rejects if the port is taken. Calling it
   * again while listening returns the same address; after `close()` it
   * listens afresh.
   */
  listen(): Promise<ListenAddress> {
    this.#listening ??= this.#start().catch(error => {
      this.#listening = undefined
      throw error
    })
    return this.#listening
  }

  async #start(): Promise<ListenAddress> {
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
    this.#address = { host: address.address, port: address.port, url: `ws://${urlHost}:${address.port}${path ?? "/"}` }
    return this.#address
  }

  /**
   * Stop accepting, close every connection (clients see a plain close and
   * will reconnect), and stop the HTTP server if this transport made it.
   * The adapter stays usable: `listen()` again to serve the same Repo.
   */
  async close(): Promise<void> {
    await this.#listening?.catch(() => {})
    const running = this.#running
    if (!running) return
    this.#running = undefined
    this.#address = undefined
    this.#listening = undefined
    running.server.off("upgrade", running.onUpgrade)
    const clients = [...running.wss.clients]
    for (const client of clients) client.close(CloseCode.GOING_AWAY, "server closing")
    const closed = Promise.all(clients.map(client => new Promise<void>(resolve => client.once("close", () => resolve()))))
    const grace = new Promise<void>(resolve => setTimeout(resolve, CLOSE_GRACE_MS).unref())
    await Promise.race([closed, grace])
    for (const client of running.wss.clients) client.terminate()
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

/** Start `server` on port and host; rejects if it cannot (the port is taken, say). */
export function listenOn(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resolve()
    })
  })
}
