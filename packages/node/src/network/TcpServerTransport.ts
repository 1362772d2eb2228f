import { createServer, type AddressInfo, type Server, type Socket } from "node:net"
import { createServer as createTlsServer, Server as TlsServer } from "node:tls"
import { CairnServerAdapter, CloseCode, DEFAULT_MAX_FRAME_BYTES, type CairnServerAdapterOptions } from "@cairn/core/network"
import { TcpSocket } from "./TcpSocket.js"
import { HANDSHAKE_BYTES, listenOn, type ListenAddress } from "./WebSocketServerTransport.js"

export interface TcpServerTransportOptions extends CairnServerAdapterOptions {
  /** Interface to listen on. Default 127.0.0.1: reachable from this machine only. */
  readonly host?: string
  /** Port to listen on; 0 picks a free one (`listen()` reports it). Default 0. */
  readonly port?: number
  /** Serve tcps:// (TLS) with this certificate and key (PEM), on the server this transport makes. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer }
  /**
   * A server to accept on instead of making one; a `tls.Server` serves
   * `tcps://`. `listen()` starts it on host/port unless it is already
   * listening; `close()` leaves it running.
   */
  readonly server?: Server
  /** A frame must arrive whole within this long of its first byte (see TcpSocket). Default 30,000. */
  readonly frameTimeoutMs?: number
}

/** How long `close()` waits for clients to finish closing before cutting them off. */
const CLOSE_GRACE_MS = 1_000

/**
 * Cairn over plain TCP (or TLS) for Node: accepts streams, frames them
 * (TcpSocket) and hands them to the same {@link CairnServerAdapter} a
 * WebSocket server uses, so the handshake, admission and every limit are
 * the same. `adapter` is what the Repo gets.
 */
export class TcpServerTransport {
  /** The NetworkAdapter to give the Repo. */
  readonly adapter: CairnServerAdapter
  readonly #options: TcpServerTransportOptions
  readonly #sockets = new Set<TcpSocket>()
  #running: { server: Server; owned: boolean; event: string; onStream: (stream: Socket) => void } | undefined
  #address: ListenAddress | undefined
  #listening: Promise<ListenAddress> | undefined

  constructor(options: TcpServerTransportOptions) {
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
    const { host = "127.0.0.1", port = 0 } = this.#options
    const owned = this.#options.server === undefined
    const { tls } = this.#options
    // A TLS handshake that stalls is cut off as a Cairn handshake would be.
    const server =
      this.#options.server ?? (tls ? createTlsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: 10_000 }) : createServer())
    const secure = server instanceof TlsServer
    // A TLS stream is handed over once its own handshake is done; tls.Server bounds that (handshakeTimeout).
    const event = secure ? "secureConnection" : "connection"
    const onStream = (stream: Socket) => this.#accept(stream)
    server.on(event, onStream)
    if (!server.listening) {
      try {
        await listenOn(server, port, host)
      } catch (error) {
        server.off(event, onStream)
        throw error
      }
    }
    this.#running = { server, owned, event, onStream }
    const address = server.address() as AddressInfo
    const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address
    this.#address = { host: address.address, port: address.port, url: `${secure ? "tcps" : "tcp"}://${urlHost}:${address.port}` }
    return this.#address
  }

  #accept(stream: Socket): void {
    const socket = new TcpSocket(stream, {
      maxFrameBytes: this.#options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      open: true,
      ...(this.#options.frameTimeoutMs !== undefined ? { frameTimeoutMs: this.#options.frameTimeoutMs } : {}),
    })
    this.#sockets.add(socket)
    stream.once("close", () => this.#sockets.delete(socket))
    // Until the handshake is done a stream may send only what a handshake needs, as on a WebSocket.
    let received = 0
    const count = (chunk: Buffer) => {
      received += chunk.byteLength
      if (received > HANDSHAKE_BYTES) stream.destroy()
    }
    stream.on("data", count)
    void this.adapter.acceptSocket(socket, { address: stream.remoteAddress }).then(() => stream.off("data", count))
  }

  /**
   * Stop accepting, close every connection (clients see a plain close and
   * will reconnect), and stop the server if this transport made it. The
   * adapter stays usable: `listen()` again to serve the same Repo.
   */
  async close(): Promise<void> {
    await this.#listening?.catch(() => {})
    const running = this.#running
    if (!running) return
    this.#running = undefined
    this.#address = undefined
    this.#listening = undefined
    running.server.off(running.event, running.onStream)
    const stopped = running.owned ? new Promise<void>(resolve => running.server.close(() => resolve())) : Promise.resolve()
    const sockets = [...this.#sockets]
    for (const socket of sockets) socket.close(CloseCode.GOING_AWAY, "server closing")
    const closed = Promise.all(sockets.map(socket => new Promise<void>(resolve => socket.addEventListener("close", () => resolve()))))
    const grace = new Promise<void>(resolve => setTimeout(resolve, CLOSE_GRACE_MS).unref())
    await Promise.race([closed, grace])
    for (const socket of sockets) socket.terminate()
    await stopped
  }
}
