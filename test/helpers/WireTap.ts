/**
 * A TCP proxy on 127.0.0.1 that records every byte passing in both
 * directions, so a test can check what actually went over the wire.
 */
import { createServer, connect, type Server, type Socket } from "node:net"
import type { AddressInfo } from "node:net"

export class WireTap {
  readonly toServer: Buffer[] = []
  readonly toClient: Buffer[] = []
  #sockets = new Set<Socket>()

  private constructor(private readonly server: Server) {}

  /** Listen on a free port and forward everything to `target` (host:port). */
  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<WireTap> {
    let tap!: WireTap
    const server = createServer(client => {
      const upstream = connect(targetPort, targetHost)
      tap.#sockets.add(client).add(upstream)
      client.on("data", chunk => {
        tap.toServer.push(Buffer.from(chunk))
        upstream.write(chunk)
      })
      upstream.on("data", chunk => {
        tap.toClient.push(Buffer.from(chunk))
        client.write(chunk)
      })
      const end = () => {
        client.destroy()
        upstream.destroy()
      }
      client.on("close", end).on("error", end)
      upstream.on("close", end).on("error", end)
    })
    tap = new WireTap(server)
    await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve))
    return tap
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /** Everything seen in both directions, as one buffer. */
  transcript(): Buffer {
    return Buffer.concat([...this.toServer, ...this.toClient])
  }

  bytes(): { toServer: number; toClient: number } {
    return { toServer: this.toServer.reduce((n, b) => n + b.length, 0), toClient: this.toClient.reduce((n, b) => n + b.length, 0) }
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }
}
