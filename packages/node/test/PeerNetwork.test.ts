import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { PeerId } from "@automerge/automerge-repo"
import { afterEach, describe, expect, it } from "vitest"
import { waitFor } from "../../core/test/wait.js"
import { NodePeer, type NodePeerOptions } from "../src/index.js"
import { transportOfUrl } from "../src/PeerNetwork.js"

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function open(options: Partial<NodePeerOptions> = {}): Promise<NodePeer> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-network-"))
  const peer = await NodePeer.open({ dir, ...options })
  cleanup.push(async () => {
    await peer.close()
    await rm(dir, { recursive: true, force: true })
  })
  return peer
}

describe("PeerNetwork", () => {
  it("dials ws:// and wss:// over WebSocket, tcp:// and tcps:// over TCP, and names the schemes it can for any other", () => {
    expect(["ws://h:1/", "wss://h:1/", "tcp://h:1", "tcps://h:1", "TCP://h:1"].map(transportOfUrl)).toEqual([
      "ws",
      "ws",
      "tcp",
      "tcp",
      "tcp",
    ])
    expect(() => transportOfUrl("http://127.0.0.1:3030")).toThrow(/use ws:\/\/, wss:\/\/, tcp:\/\/ or tcps:\/\//)
    expect(() => transportOfUrl("127.0.0.1:3030")).toThrow(TypeError)
  })

  it("holds a TCP connection to the peer's rate limit, as a WebSocket one", async () => {
    const server = await open({ limits: { messagesPerSecond: 1 } })
    const { url } = await server.listenTcp({ port: 0 })
    const client = await open()
    const link = client.network.connect(url)
    await client.whenSynced(10_000)
    for (let i = 0; i < 20 && link.status === "connected"; i++) link.sendControl(link.remotePeerId as PeerId, { t: "noise" })
    await waitFor(() => link.status === "refused")
    expect(link.refusalReason).toBe("more than 1 messages per second")
    await waitFor(() => server.peers().length === 0)
  })
})
