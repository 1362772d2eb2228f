// By the package's name, as the runtimes import it, so the suite's types and these are one declaration.
import { CairnClientAdapter, CairnServerAdapter, MemorySocket } from "@cairn/core/network"
import { transportConformance, type TransportUnderTest } from "./conformance/transport.js"
import { registerCases } from "./conformance/vitest.js"

/** Client and server adapters in one process over MemorySocket pairs; "down" makes dials fail as a closed port does. */
const memoryTransport: TransportUnderTest = {
  cannot: { backpressure: "a MemorySocket has no bufferedAmount: it hands every frame over at once, so a send never has to wait" },
  async start(options) {
    const adapter = new CairnServerAdapter(options)
    let up = true
    const dial = (): MemorySocket => {
      if (!up) {
        const refused = MemorySocket.unanswered()
        setTimeout(() => refused.close())
        return refused
      }
      const { client, server } = MemorySocket.pair()
      void adapter.acceptSocket(server, { address: "memory" })
      return client
    }
    return {
      adapter,
      client: clientOptions => new CairnClientAdapter({ ...clientOptions, url: "memory://server", createSocket: dial }),
      stop: async () => {
        up = false
        adapter.disconnect()
      },
      restart: async () => {
        up = true
        adapter.connect(adapter.peerId!, adapter.peerMetadata)
      },
      close: async () => {
        up = false
      },
    }
  },
}

registerCases("transport conformance: MemorySocket", transportConformance(memoryTransport))
