#!/usr/bin/env node
// How fast the dashboard finds a document among many: a node peer with N small
// tasks (made in transactions of 1,000), its dashboard on 127.0.0.1, and the
// time of each GET /api/docs a page sends: the first page in catalog order
// (which reads only its own documents), the first search (which answers
// from what the index has read after 2 s) and how long until a search is
// over every document, then searches, filters, sorts and pages
// over the index, first and again (a sorted order is kept until something
// changes), and one after a change (which reads that one document again).
// Also the heap the index holds. Run after `npx turbo run build`:
//   node --expose-gc test/bench/dashboard-search.mjs [--docs 100000] [--reps 5]
import { mkdtemp, rm } from "node:fs/promises"
import { createServer } from "node:http"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { defineType, f } from "@cairn/core"
import { DashboardServer } from "@cairn/dashboard"
import { NodePeer } from "@cairn/node"

const option = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const DOCS = option("docs", 100_000)
const REPS = option("reps", 5)
const Task = defineType("task", {
  fields: { title: f.string(), done: f.boolean().default(false), priority: f.number().optional(), notes: f.text().default("") },
})

const heap = () => {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}
const mb = bytes => `${(bytes / 1024 / 1024).toFixed(0)} MB`

const dir = await mkdtemp(join(tmpdir(), "cairn-bench-dashboard-"))
const peer = await NodePeer.open({ dir, types: [Task] })
const started = performance.now()
const ids = []
for (let start = 0; start < DOCS; start += 1000)
  await peer.db.transaction(tx => {
    for (let n = start; n < Math.min(DOCS, start + 1000); n++)
      ids.push(
        tx.create(Task, {
          title: n === Math.floor(DOCS * 0.77) ? "Renew the passport" : `task ${n}`,
          done: n % 3 === 0,
          ...(n % 7 ? { priority: n % 5 } : {}),
          notes: `note for task ${n}`,
        }),
      )
  })
console.log(`${DOCS} tasks made in ${((performance.now() - started) / 1000).toFixed(1)} s`)

const dashboard = new DashboardServer(peer, { log: () => {} })
const server = createServer(dashboard.handle)
const { port } = await peer.listen({ port: 0, server })
const get = async query => {
  const t = performance.now()
  const response = await fetch(`http://127.0.0.1:${port}/api/docs?type=task&${query}`)
  const json = await response.json()
  if (!response.ok) throw new Error(json.error)
  return { ms: performance.now() - t, total: json.total, indexing: json.indexing }
}

const before = heap()
const first = await get("limit=100")
console.log(`first page, newest first (catalog order: reads its 100 only): ${first.ms.toFixed(0)} ms (${first.total} in all)`)
const searching = performance.now()
let firstSearch = await get("q=passport&limit=100")
console.log(
  `first search: ${(firstSearch.ms / 1000).toFixed(1)} s, ${firstSearch.indexing ? `over the ${firstSearch.indexing.read} read so far` : "complete"}`,
)
while (firstSearch.indexing) firstSearch = await get("q=passport&limit=100")
console.log(`until a search is over all ${first.total} (the index has read them): ${((performance.now() - searching) / 1000).toFixed(1)} s`)
console.log(`index: ${dashboard.indexed} documents, heap +${mb(heap() - before)} (${mb(heap())} in all)`)

const where = encodeURIComponent(JSON.stringify({ done: true, priority: { $gte: 3 } }))
const queries = {
  "search one word": "q=passport&limit=100",
  "search a common word": "q=task%201&limit=100",
  "filter (where)": `where=${where}&limit=100`,
  "sort by a field": "sort=priority&order=desc&limit=100",
  "sort by title, last page": `sort=title&offset=${DOCS - 100}&limit=100`,
  "search + filter + sort": `q=note&where=${where}&sort=title&limit=100`,
  "catalog order, a middle page": `sort=createdAt&order=asc&offset=${Math.floor(DOCS / 2)}&limit=100`,
}
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
console.log(`${"request".padEnd(30)} ${"first".padStart(7)} ${"again".padStart(7)}  (median of ${REPS - 1} more)`)
for (const [name, query] of Object.entries(queries)) {
  const times = []
  let total = 0
  for (let rep = 0; rep < REPS; rep++) {
    const { ms, total: matched } = await get(query)
    times.push(ms)
    total = matched
  }
  console.log(
    `${name.padEnd(30)} ${times[0].toFixed(0).padStart(4)} ms ${median(times.slice(1)).toFixed(0).padStart(4)} ms  (${total} match)`,
  )
}
await peer.db.change(Task, ids[0], d => (d.title = "changed"))
const after = await get("q=changed&limit=100")
console.log(`search after one change (reads it again, sorts again): ${after.ms.toFixed(0)} ms (${after.total} match)`)

console.log(`${cpus().length} cores, 1-minute load average ${loadavg()[0].toFixed(1)} at the end, Node ${process.version}`)

dashboard.close()
await peer.close()
server.closeAllConnections()
await new Promise(resolve => server.close(resolve))
await rm(dir, { recursive: true, force: true })
