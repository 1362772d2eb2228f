#!/usr/bin/env node
// How fast the dashboard opens a document with a long history: a node peer
// with one task changed 10,000 times (each with a message; every tenth also
// edits text), its dashboard on 127.0.0.1, and the time of the requests the
// page sends to open it: the document, its newest page of changes with
// diffs, the oldest page, and the document as of its first change. Run after
// `npx turbo run build`:
//   node test/bench/dashboard-history.mjs [--changes 10000]
import { mkdtemp, rm } from "node:fs/promises"
import { createServer } from "node:http"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { defineType, f } from "@cairn/core"
import { DashboardServer } from "@cairn/dashboard"
import { NodePeer } from "@cairn/node"

const at = process.argv.indexOf("--changes")
const CHANGES = at === -1 ? 10_000 : Number(process.argv[at + 1])
const Task = defineType("task", { fields: { title: f.string(), votes: f.counter(), notes: f.text().default("") } })
const dir = await mkdtemp(join(tmpdir(), "cairn-bench-history-"))
const peer = await NodePeer.open({ dir, types: [Task] })
const doc = await peer.db.create(Task, { title: "a long history", votes: 0 })
const started = performance.now()
for (let n = 0; n < CHANGES; n++)
  await peer.db.change(
    Task,
    doc.id,
    draft => {
      draft.votes.increment()
      if (n % 10 === 0) draft.notes.splice(0, 0, "x")
    },
    { message: `change ${n}` },
  )
console.log(`${CHANGES} changes made in ${((performance.now() - started) / 1000).toFixed(1)} s`)

const dashboard = new DashboardServer(peer, { log: () => {} })
const server = createServer(dashboard.handle)
const { port } = await peer.listen({ port: 0, server })
const time = async (label, path) => {
  const t = performance.now()
  const response = await fetch(`http://127.0.0.1:${port}${path}`)
  const body = await response.text()
  if (!response.ok) throw new Error(body)
  console.log(`${label.padEnd(44)} ${(performance.now() - t).toFixed(0).padStart(5)} ms (${body.length} bytes)`)
}
const [first] = await peer.db.history(doc.id)
await time("the document (its newest 50 changes listed)", `/api/docs/${doc.id}`)
await time("newest 20 changes with diffs", `/api/docs/${doc.id}/history`)
await time("newest 20 changes with diffs, again", `/api/docs/${doc.id}/history`)
await time("oldest 20 changes with diffs", `/api/docs/${doc.id}/history?offset=${CHANGES - 19}`)
await time("the document as of its first change", `/api/docs/${doc.id}/at/${first.hash}`)
console.log(`1-minute load average ${loadavg()[0].toFixed(1)}, Node ${process.version}`)

dashboard.close()
await peer.close()
server.closeAllConnections()
await new Promise(resolve => server.close(resolve))
await rm(dir, { recursive: true, force: true })
