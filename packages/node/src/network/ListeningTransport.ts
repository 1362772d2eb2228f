import type { Server } from "node:net"
import { CairnServerAdapter, CloseCode, type CairnServerAdapterOptions } from "@cairn/core/network"

/** Where a transport listens. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
  /** The URL a client connects to (`ws://`, `wss://`, `tcp://` or `tcps://`). */
  readonly url: string
}

/** Raw bytes a socket may send before its handshake is done (a hello and a few auth rounds take a few kilobytes). */
export const HANDSHAKE_BYTES = 256 * 1024

/** How long `close()` waits for clients to finish closing before cutting them off. */
const CLOSE_GRACE_MS = 1_000

/**
 * What every server transport of a Node peer shares: the server adapter
 * the Repo gets (`new Repo({ network: [transport.adapter] })`), listening
 * once at a time, and its real address while it listens. A subclass says
 * how to start accepting and how to stop.
 */
export abstract class ListeningTransport {
  /** The NetworkAdapter to give the Repo. */
  readonly adapter: CairnServerAdapter
  #address: ListenAddress | undefined
  #listening: Promise<ListenAddress> | undefined

  constructor(options: CairnServerAdapterOptions) {
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
    this.#listening ??= this.start().then(
      address => (this.#address = address),
      error => {
        this.#listening = undefined
        throw error
      },
    )
    return this.#listening
  }

  /**
   * Stop accepting, close every connection (clients see a plain close and
   * will reconnect), and stop the server if this transport made it. The
   * adapter stays usable: `listen()` again to serve the same Repo.
   */
  async close(): Promise<void> {
    await this.#listening?.catch(() => {})
    if (!this.#address) return
    this.#address = undefined
    this.#listening = undefined
    await this.stop()
  }

  /** Start accepting; resolves with the address, or rejects (and leaves nothing running) if it cannot. */
  protected abstract start(): Promise<ListenAddress>

  /** Stop what `start` began. */
  protected abstract stop(): Promise<void>
}

/** A client connection as `closeAll` sees it: `ws`'s WebSocket and TcpSocket both are. */
interface Closable {
  close(code: number, reason: string): void
  terminate(): void
  addEventListener(type: "close", listener: () => void): void
}

/** Close each connection as a server going away, wait a moment for them to finish, then cut off the rest. */
export async function closeAll(connections: readonly Closable[]): Promise<void> {
  for (const connection of connections) connection.close(CloseCode.GOING_AWAY, "server closing")
  const closed = Promise.all(connections.map(c => new Promise<void>(resolve => c.addEventListener("close", () => resolve()))))
  const grace = new Promise<void>(resolve => setTimeout(resolve, CLOSE_GRACE_MS).unref())
  await Promise.race([closed, grace])
  for (const connection of connections) connection.terminate()
}

/** Start `server` on port and host; rejects if it cannot (the port is taken, say). */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resolve()
    })
  })
}
