/**
 * NodePeer over TCP: listenTcp beside listen, tcps:// with a certificate
 * that clients verify by default, and URLs a peer cannot dial refused up front.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { defineType, f } from "@cairn/core"
import { NodePeer } from "../src/index.js"
import { selfSignedCertificate } from "./helpers/certificate.js"

const Task = defineType("task", { fields: { title: f.string() } })
const dirs: string[] = []
const peers: NodePeer[] = []
afterAll(async () => {
  for (const peer of peers) await peer.close()
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

async function open(): Promise<NodePeer> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-tcp-peer-"))
  dirs.push(dir)
  const peer = await NodePeer.open({ dir, types: [Task] })
  peers.push(peer)
  return peer
}

describe("NodePeer over TCP", () => {
  it("serves tcps:// with a certificate; a client verifies it by default and syncs once it trusts it", async () => {
    const tls = await selfSignedCertificate()
    const server = await open()
    const doc = await server.db.create(Task, { title: "over tcps" })
    const { url } = await server.listenTcp({ port: 0, tls })
    expect(url).toMatch(/^tcps:\/\/127\.0\.0\.1:\d+$/)

    const unverified = await open()
    unverified.connect(url)
    await sleep(500)
    expect(unverified.network.clients()[0]).toMatchObject({ url, transport: "tcp" })
    expect(unverified.network.clients()[0]!.status).not.toBe("connected")
    expect(unverified.db.catalog.has(doc.id)).toBe(false)

    const client = await open()
    client.connect(url, { ca: tls.cert })
    await client.whenSynced(10_000)
    expect((await client.db.get(Task, doc.id)).data.title).toBe("over tcps")
    expect(server.network.transportOf(client.peer.repo.peerId)).toBe("tcp")
  })

  it("refuses a URL it cannot dial with an error that names the schemes it can", async () => {
    const peer = await open()
    expect(() => peer.connect("http://127.0.0.1:3030")).toThrow(/use ws:\/\/, wss:\/\/, tcp:\/\/ or tcps:\/\//)
    expect(() => peer.connect("tcp://127.0.0.1")).toThrow(/names no port/)
    expect(peer.network.clients()).toEqual([])
  })
})
