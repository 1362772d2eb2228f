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

async function temp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-tls-"))
  dirs.push(dir)
  return dir
}

async function open(): Promise<NodePeer> {
  const peer = await NodePeer.open({ dir: await temp(), types: [Task] })
  peers.push(peer)
  return peer
}

/** A client without the certificate does not connect and gets nothing; one given it as `ca` syncs. Returns that one. */
async function checksTheCertificate(url: string, ca: string, docId: string): Promise<NodePeer> {
  const unverified = await open()
  unverified.connect(url)
  await sleep(500)
  expect(unverified.network.clients()[0]!.status).not.toBe("connected")
  expect(unverified.db.catalog.has(docId)).toBe(false)

  const client = await open()
  client.connect(url, { ca })
  await client.whenSynced(10_000)
  return client
}

describe("TLS", () => {
  it("serves wss:// and clients verify the certificate by default", async () => {
    const tls = await selfSignedCertificate()
    const server = await open()
    const doc = await server.db.create(Task, { title: "over TLS" })
    const { url } = await server.listen({ port: 0, tls })
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/?$/)
    const client = await checksTheCertificate(url, tls.cert, doc.id)
    expect((await client.db.get(Task, doc.id)).data.title).toBe("over TLS")
  })

  it("serves tcps:// with the same certificate rules: verified by default, synced once the client trusts it", async () => {
    const tls = await selfSignedCertificate()
    const server = await open()
    const doc = await server.db.create(Task, { title: "over tcps" })
    const { url } = await server.listenTcp({ port: 0, tls })
    expect(url).toMatch(/^tcps:\/\/127\.0\.0\.1:\d+$/)
    const client = await checksTheCertificate(url, tls.cert, doc.id)
    expect((await client.db.get(Task, doc.id)).data.title).toBe("over tcps")
    expect(client.network.clients()).toEqual([{ url, transport: "tcp", status: "connected" }])
    expect(server.network.transportOf(client.peer.repo.peerId)).toBe("tcp")
  })
})
