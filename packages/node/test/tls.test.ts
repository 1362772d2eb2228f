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

describe("TLS", () => {
  it("serves wss:// and clients verify the certificate by default", async () => {
    const tls = await selfSignedCertificate()
    const server = await NodePeer.open({ dir: await temp(), types: [Task] })
    peers.push(server)
    const doc = await server.db.create(Task, { title: "over TLS" })
    const { url } = await server.listen({ port: 0, tls })
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/?$/)

    const unverified = await NodePeer.open({ dir: await temp(), types: [Task] })
    peers.push(unverified)
    unverified.connect(url)
    await sleep(500)
    expect(unverified.network.clients()[0]!.status).not.toBe("connected")
    expect(unverified.db.catalog.has(doc.id)).toBe(false)

    const client = await NodePeer.open({ dir: await temp(), types: [Task] })
    peers.push(client)
    client.connect(url, { ca: tls.cert })
    await client.whenSynced(10_000)
    expect((await client.db.get(Task, doc.id)).data.title).toBe("over TLS")
  })
})
