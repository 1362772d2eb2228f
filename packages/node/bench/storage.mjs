// Storage benchmark: Cairn's LogStorageAdapter against automerge-repo's
// NodeFSStorageAdapter, through a real Repo.
//
//   cd packages/node && npx tsc -b && node bench/storage.mjs [runs=5]
//
// 1. 1,000 small documents created in a Repo and flushed: time, bytes on disk
//    (file sizes, and blocks allocated as `du` counts them) against the bytes
//    of the documents themselves (sum of Automerge.save).
// 2. A fresh Repo on the same directory finds all 1,000: time.
// 3. A store of 10,000 documents plus a catalog: time to open it and read the
//    catalog, and the time of one loadRange([docId]).
// Medians of `runs` runs. nodefs never fsyncs; the log adapter fsyncs every
// group commit unless marked "fsync off".
//
// Every measurement runs in a fresh Node process: in one long process each
// Repo leaves Automerge's wasm heap larger, and by the third run garbage
// collection and wasm allocation dominate every adapter's numbers.
import { execFileSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { lstat, mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Automerge from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { LogStorageAdapter } from "../dist/storage/LogStorageAdapter.js"

const runs = Number(process.argv[2] ?? 5)
const DOCS = 1_000
const BIG_STORE_DOCS = 10_000

const adapters = {
  log: dir => LogStorageAdapter.open(dir),
  "log, fsync off": dir => LogStorageAdapter.open(dir, { fsync: false }),
  nodefs: async dir => new NodeFSStorageAdapter(dir),
}

const smallDoc = i => ({
  title: `Task number ${i}`,
  done: i % 3 === 0,
  priority: i % 5,
  notes: `Remember to check item ${i} before the weekly review.`,
  tags: ["work", i % 2 ? "home" : "errand"],
})

async function diskUsage(dir) {
  let bytes = 0
  let allocated = 0
  for (const entry of await readdir(dir, { recursive: true })) {
    const info = await lstat(join(dir, entry))
    if (info.isFile()) bytes += info.size
    allocated += info.blocks * 512
  }
  return { bytes, allocated }
}

async function repoRun(open) {
  const dir = await mkdtemp(join(tmpdir(), "cairn-bench-"))
  try {
    let storage = await open(dir)
    let repo = new Repo({ storage, network: [] })
    let start = performance.now()
    const handles = Array.from({ length: DOCS }, (_, i) => repo.create(smallDoc(i)))
    await repo.flush()
    const createMs = performance.now() - start
    const docBytes = handles.reduce((sum, handle) => sum + Automerge.save(handle.doc()).length, 0)
    const urls = handles.map(handle => handle.url)
    await repo.shutdown()
    await storage.close?.()
    const disk = await diskUsage(dir)

    storage = await open(dir)
    repo = new Repo({ storage, network: [] })
    start = performance.now()
    const found = await Promise.all(urls.map(url => repo.find(url)))
    found.forEach(handle => handle.doc())
    const loadMs = performance.now() - start
    await repo.shutdown()
    await storage.close?.()
    return { createMs, loadMs, docBytes, diskBytes: disk.bytes, diskAllocated: disk.allocated }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Chunks of 10,000 one-snapshot documents and a catalog, as automerge-repo
 * and Cairn would store them. The adapters do not look inside values, so 100
 * distinct documents are reused under 10,000 ids: calling Automerge.from
 * 10,000 times in a process that has also loaded automerge-repo crashes
 * Node 20.20's V8 about half the time ("unreachable code" in the deoptimizer).
 */
function bigStoreChunks() {
  const chunks = []
  const docIds = []
  const templates = Array.from({ length: 100 }, (_, i) => Automerge.save(Automerge.from(smallDoc(i))))
  for (let i = 0; i < BIG_STORE_DOCS; i++) {
    const docId = randomBytes(16).toString("base64url")
    const data = templates[i % templates.length]
    chunks.push({ key: [docId, "snapshot", createHash("sha256").update(data).digest("hex")], data })
    docIds.push(docId)
  }
  chunks.push({ key: ["cairn-catalog", "snapshot"], data: randomBytes(BIG_STORE_DOCS * 40) })
  for (let seq = 0; seq < 100; seq++) chunks.push({ key: ["cairn-catalog", "log", String(seq)], data: randomBytes(200) })
  return { chunks, docIds }
}

async function bigStoreRun(open, { chunks, docIds }) {
  const dir = await mkdtemp(join(tmpdir(), "cairn-bench-"))
  try {
    let storage = await open(dir)
    await Promise.all(chunks.map(chunk => storage.save(chunk.key, chunk.data)))
    await storage.close?.()

    let start = performance.now()
    storage = await open(dir)
    await storage.load(["cairn-catalog", "snapshot"])
    await storage.loadRange(["cairn-catalog", "log"])
    const openMs = performance.now() - start
    start = performance.now()
    const sample = docIds.slice(0, 200)
    for (const docId of sample) await storage.loadRange([docId])
    const loadRangeMs = (performance.now() - start) / sample.length
    await storage.close?.()
    return { openMs, loadRangeMs }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const kb = bytes => `${(bytes / 1024).toFixed(0)} KB`
const ms = value => `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`

function table(title, rows) {
  console.log(`\n${title}`)
  const names = Object.keys(rows[0])
  const widths = names.map(name => Math.max(name.length, ...rows.map(row => String(row[name]).length)))
  console.log(names.map((name, i) => name.padEnd(widths[i])).join("  "))
  for (const row of rows) console.log(names.map((name, i) => String(row[name]).padEnd(widths[i])).join("  "))
}

const scenarios = { repo: repoRun, bigStore: open => bigStoreRun(open, bigStoreChunks()) }

if (process.argv[2] === "--measure") {
  const [, , , scenario, adapter] = process.argv
  console.log(JSON.stringify(await scenarios[scenario](adapters[adapter])))
  process.exit(0)
}

/** Run one measurement in a fresh process (see above). */
function measure(scenario, adapter) {
  const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--measure", scenario, adapter], { encoding: "utf8" })
  return JSON.parse(output)
}

const repoResults = {}
const bigResults = {}
for (let run = 0; run < runs; run++) {
  for (const name of Object.keys(adapters)) {
    ;(repoResults[name] ??= []).push(measure("repo", name))
    ;(bigResults[name] ??= []).push(measure("bigStore", name))
  }
}

table(
  `${DOCS} small docs through a Repo (median of ${runs})`,
  Object.entries(repoResults).map(([name, results]) => {
    const pick = field => median(results.map(result => result[field]))
    return {
      adapter: name,
      "create+flush": ms(pick("createMs")),
      "load all (fresh Repo)": ms(pick("loadMs")),
      "doc bytes": kb(pick("docBytes")),
      "disk (file sizes)": `${kb(pick("diskBytes"))} (${(pick("diskBytes") / pick("docBytes")).toFixed(1)}x)`,
      "disk (allocated)": `${kb(pick("diskAllocated"))} (${(pick("diskAllocated") / pick("docBytes")).toFixed(1)}x)`,
    }
  }),
)
table(
  `store of ${BIG_STORE_DOCS} docs + catalog (median of ${runs})`,
  Object.entries(bigResults).map(([name, results]) => ({
    adapter: name,
    "open + read catalog": ms(median(results.map(result => result.openMs))),
    "loadRange([docId])": ms(median(results.map(result => result.loadRangeMs))),
  })),
)
