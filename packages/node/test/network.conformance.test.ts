/**
 * Cairn's WebSocket transport for Node through the transport conformance
 * suite: a real WebSocketServerTransport on 127.0.0.1 and clients made by
 * createNodeClientAdapter, as a peer makes them.
 */
import { createServer, type Server } from "node:http"
import type { Duplex } from "node:stream"
import { transportConformance, type TransportUnderTest } from "../../core/test/conformance/transport.js"
import { registerCases } from "../../core/test/conformance/vitest.js"
import { createNodeClientAdapter } from "../src/network/createNodeClientAdapter.js"
import { WebSocketServerTransport } from "../src/network/WebSocketServerTransport.js"
import { freePort, pauseAll } from "./helpers/sockets.js"

const webSocketTransport: TransportUnderTest = {
  async start(options) {
    // The transport serves on an HTTP server of ours, so the test can reach the raw TCP sockets
    // (to stop reading them) and stop and start the server on the same port.
    const http: Server = createServer()
    const port = await freePort()
    const sockets = new Set<Duplex>()
    http.on("upgrade", (_request, socket: Duplex) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    })
    const transport = new WebSocketServerTransport({ ...options, server: http, port })
    const { url } = await transport.listen()
    const stop = async () => {
      await transport.close()
      const stopped = new Promise<void>(resolve => http.close(() => resolve()))
      http.closeAllConnections()
      await stopped
    }
    return {
      adapter: transport.adapter,
      client: clientOptions => createNodeClientAdapter({ ...clientOptions, url }),
      stop,
      restart: async () => void (await transport.listen()),
      stopReading: () => pauseAll(sockets),
      close: async () => {
        if (http.listening) await stop()
      },
    }
  },
}

registerCases(
  "transport conformance: WebSocket (WebSocketServerTransport and createNodeClientAdapter)",
  transportConformance(webSocketTransport),
)
