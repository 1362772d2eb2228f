#!/usr/bin/env node
// TCP against WebSocket, side by side: a server peer in its own process
// (test/fixtures/peer.mjs) holds N tasks and listens on both; each round a
// fresh client peer in this process syncs all of them, over TCP and over
// WebSocket in alternating order, and the time from `connect` to
// `whenSynced` is taken.
// Prints medians and the ratio. Nothing is written.
//
//   node test/bench/transports.mjs [--docs N] [--reps N]      (after a build)
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { NodePeer } from "@cairn/node"
import { median } from "./lib/stats.mjs"
import { types } from "../fixtures/types.mjs"

const args = Object.fromEntries(process.argv.slice(2).map((arg, i, all) => [arg.replace(/^--/, ""), all[i + 1]]))
const docs = Number(args.docs ?? 5000)
const reps = Number(args.reps ?? 5)
const scratch = await mkdtemp(join(tmpdir(), "cairn-bench-transports-"))

const child = spawn(
  process.execPath,
  [fileURLToPath(new URL("../fixtures/peer.mjs", import.meta.url)), `--dir=${join(scratch, "server")}`],
  {
    stdio: ["pipe", "pipe", "inherit"],
  },
)
const pending = new Map()
let next = 0
const ready = new Promise(resolve =>
  createInterface({ input: child.stdout }).on("line", line => {
    const message = JSON.parse(line)
    if (message.ready) return resolve()
    const answer = pending.get(message.id)
    pending.delete(message.id)
    if (message.ok) answer?.resolve(message.result)
    else answer?.reject(new Error(message.error))
  }),
)
const call = (cmd, callArgs = {}) =>
  new Promise((resolve, reject) => {
    const id = next++
    pending.set(id, { resolve, reject })
    child.stdin.write(`${JSON.stringify({ id, cmd, args: callArgs })}\n`)
  })

await ready
await call("seed", { type: "task", count: docs })
const urls = { ws: (await call("listen")).url, tcp: (await call("listenTcp")).url }
const times = { ws: [], tcp: [] }
// Round 0 warms both sides up (code paths compiled, the server's catalog in memory) and is not counted.
for (let rep = 0; rep <= reps; rep++) {
  for (const transport of rep % 2 === 0 ? ["tcp", "ws"] : ["ws", "tcp"]) {
    const client = await NodePeer.open({ dir: join(scratch, `client-${transport}-${rep}`), types })
    const started = performance.now()
    client.connect(urls[transport])
    await client.whenSynced(120_000)
    const ms = performance.now() - started
    const held = client.db.catalog.size
    await client.close()
    if (held < docs) throw new Error(`${transport}: ${held} of ${docs} documents arrived`)
    if (rep === 0) continue
    times[transport].push(ms)
    console.log(`rep ${rep} ${transport}: ${ms.toFixed(0)} ms`)
  }
}
await call("close").catch(() => {})
await rm(scratch, { recursive: true, force: true })
const [ws, tcp] = [median(times.ws), median(times.tcp)]
console.log(
  `initial sync of ${docs} documents, median of ${reps}: WebSocket ${ws.toFixed(0)} ms, TCP ${tcp.toFixed(0)} ms, TCP/WebSocket ${(tcp / ws).toFixed(2)}x`,
)
