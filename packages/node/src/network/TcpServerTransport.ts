import { createServer, type AddressInfo, type Server, type Socket } from "node:net"
import { createServer as createTlsServer, Server as TlsServer } from "node:tls"
import { DEFAULT_MAX_FRAME_BYTES, type CairnServerAdapterOptions } from "@cairn/core/network"
import { closeAll, HANDSHAKE_BYTES, ListeningTransport, listenOn, type ListenAddress } from "./ListeningTransport.js"
import { TcpSocket } from "./TcpSocket.js"

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

/**
 * Cairn over plain TCP (or TLS) for Node: accepts streams, frames them
 * (TcpSocket) and hands them to the same CairnServerAdapter a WebSocket
 * server uses, so the handshake, admission and every limit are the same.
 * `adapter` is what the Repo gets.
 */
export class TcpServerTransport extends ListeningTransport {
  readonly #options: TcpServerTransportOptions
  readonly #sockets = new Set<TcpSocket>()
  #running: { server: Server; owned: boolean; event: string; onStream: (stream: Socket) => void } | undefined

  constructor(options: TcpServerTransportOptions) {
    super(options)
    this.#options = options
  }

  protected async start(): Promise<ListenAddress> {
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
    return { host: address.address, port: address.port, url: `${secure ? "tcps" : "tcp"}://${urlHost}:${address.port}` }
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

  protected async stop(): Promise<void> {
    const running = this.#running
    if (!running) return
    this.#running = undefined
    running.server.off(running.event, running.onStream)
    const stopped = running.owned ? new Promise<void>(resolve => running.server.close(() => resolve())) : Promise.resolve()
    await closeAll([...this.#sockets])
    await stopped
  }
}
