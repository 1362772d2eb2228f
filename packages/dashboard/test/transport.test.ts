/**
 * The network picture says which transport each link uses: a peer that
 * dialled in over TCP and one over WebSocket, and this peer's own
 * outgoing connection, each with its transport; a folder, as a link of its own.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { NodePeer } from "@cairn/node"
import { DashboardApi } from "../src/DashboardApi.js"
import { PeerMemory } from "../src/PeerMemory.js"

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function open(): Promise<NodePeer> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-dashboard-transport-"))
  const peer = await NodePeer.open({ dir })
  cleanup.push(async () => {
    await peer.close()
    await rm(dir, { recursive: true, force: true })
  })
  return peer
}

describe("the dashboard's links", () => {
  it("give each connected peer and each outgoing connection its transport", async () => {
    const hub = await open()
    const ws = await hub.listen({ port: 0 })
    const tcp = await hub.listenTcp({ port: 0 })
    const overTcp = await open()
    const overWs = await open()
    overTcp.connect(tcp.url)
    overWs.connect(ws.url)
    await Promise.all([overTcp.whenSynced(10_000), overWs.whenSynced(10_000)])

    const { peers } = await new DashboardApi(hub, new PeerMemory()).overview()
    const byMachine = Object.fromEntries(peers.map(peer => [peer.machineId, peer.transport]))
    expect(byMachine).toEqual({ [overTcp.machineId]: "tcp", [overWs.machineId]: "ws" })

    const seenFromTcp = await new DashboardApi(overTcp, new PeerMemory()).overview()
    expect(seenFromTcp.connections).toEqual([{ url: tcp.url, transport: "tcp", status: "connected" }])
    expect(seenFromTcp.peers.map(peer => peer.transport)).toEqual(["tcp"])
  })

  it("show a folder this peer syncs through as a link of its own, with its last sync", async () => {
    const peer = await open()
    const folder = await mkdtemp(join(tmpdir(), "cairn-dashboard-folder-"))
    cleanup.push(() => rm(folder, { recursive: true, force: true }))
    await (await peer.syncFolder(folder)).sync()
    const { connections } = await new DashboardApi(peer, new PeerMemory()).overview()
    expect(connections).toEqual([{ url: `file://${folder}`, transport: "folder", status: "synced", lastSyncAt: expect.any(Number) }])
  })
})
