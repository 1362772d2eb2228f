/**
 * Cairn over TCP through the transport conformance suite, plain and with
 * TLS: a real TcpServerTransport on 127.0.0.1 and clients made by
 * createTcpClientAdapter, as a peer makes them.
 */
import { createServer, type Server, type Socket } from "node:net"
import { createServer as createTlsServer } from "node:tls"
import { transportConformance, type TransportUnderTest } from "../../core/test/conformance/transport.js"
import { registerCases } from "../../core/test/conformance/vitest.js"
import { createTcpClientAdapter } from "../src/network/TcpClientAdapter.js"
import { TcpServerTransport } from "../src/network/TcpServerTransport.js"
import { selfSignedCertificate } from "./helpers/certificate.js"
import { freePort, pauseAll } from "./helpers/sockets.js"

function tcpTransport(tls?: () => Promise<{ cert: string; key: string }>): TransportUnderTest {
  return {
    async start(options) {
      // The transport accepts on a server of ours, so the test can reach the raw streams
      // (to stop reading them) and stop and start the server on the same port.
      const certificate = tls ? await tls() : undefined
      const server: Server = certificate ? createTlsServer(certificate) : createServer()
      const streams = new Set<Socket>()
      server.on(certificate ? "secureConnection" : "connection", (stream: Socket) => {
        streams.add(stream)
        stream.once("close", () => streams.delete(stream))
      })
      const transport = new TcpServerTransport({ ...options, server, port: await freePort() })
      const { url } = await transport.listen()
      const stop = async () => {
        await transport.close()
        await new Promise<void>(resolve => server.close(() => resolve()))
      }
      return {
        adapter: transport.adapter,
        client: clientOptions => createTcpClientAdapter({ ...clientOptions, url, ...(certificate ? { ca: certificate.cert } : {}) }),
        stop,
        restart: async () => void (await transport.listen()),
        stopReading: () => pauseAll(streams),
        close: async () => {
          if (server.listening) await stop()
        },
      }
    },
  }
}

let certificate: Promise<{ cert: string; key: string }> | undefined

registerCases("transport conformance: TCP (TcpServerTransport and createTcpClientAdapter)", transportConformance(tcpTransport()))
registerCases(
  "transport conformance: TCP with TLS (tcps://)",
  transportConformance(tcpTransport(() => (certificate ??= selfSignedCertificate()))),
)
