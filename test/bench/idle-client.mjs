#!/usr/bin/env node
// Clients of the idle-connection benchmark (idle-connections.mjs) in one
// process: --count NodePeers, each with a directory of its own under --dir,
// connected to --url, synced, then idle until stdin closes. Prints one JSON
// line once every one has synced.
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { NodePeer } from "@cairn/node"
import { types } from "../fixtures/types.mjs"

const args = Object.fromEntries(process.argv.slice(2).map(arg => arg.replace(/^--/, "").split("=")))
const count = Number(args.count)
const peers = []
for (let i = 0; i < count; i++) {
  const dir = join(args.dir, `peer-${i}`)
  await mkdir(dir, { recursive: true })
  const peer = await NodePeer.open({ dir, types, localSocket: false, log: () => {} })
  peer.connect(args.url)
  peers.push(peer)
}
await Promise.all(peers.map(peer => peer.whenSynced(120_000)))
const held = peers.map(peer => peer.db.catalog.size)
process.stdout.write(`${JSON.stringify({ synced: count, documents: Math.min(...held) })}\n`)
process.stdin.resume()
process.stdin.on("end", async () => {
  await Promise.all(peers.map(peer => peer.close()))
  process.exit(0)
})
