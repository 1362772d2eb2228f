// Transaction benchmark: one `db.transaction` of N creations, and one of N
// changes to N existing documents, until it is on disk (in-memory storage,
// so the figures are the transaction's own work, not a disk's).
//
//   npx turbo run build && node packages/core/bench/transaction.mjs [runs=3] [sizes=1000,2000,5000,10000]
//
// Prints, per size, the median of `runs` runs of the time until the commit
// resolved and of the process's CPU time meanwhile (steadier than the time on
// a shared machine), each also per document: that stays flat when the time is
// linear in the transaction's size. Every run is a fresh Node process (in one
// long process Automerge's wasm heap grows from run to run and skews the
// larger sizes) and warms up first with 500 creations and changes. A change
// run creates its documents first (not timed), in one transaction, so none
// is in memory when the timed one starts.
import { execFileSync } from "node:child_process"
import os from "node:os"
import { fileURLToPath } from "node:url"
import { Repo } from "@automerge/automerge-repo"
import { Database, Machine, defineType, f } from "../dist/index.js"

const Task = defineType("task", { fields: { title: f.string(), done: f.boolean(), priority: f.number() } })

/** Storage in memory, its keys grouped by document so that reading one document's range costs nothing that grows with the store. */
class MemoryStorage {
  documents = new Map()
  async load(key) {
    return this.documents.get(key[0])?.get(key.join("/"))
  }
  async save(key, value) {
    let keys = this.documents.get(key[0])
    if (!keys) this.documents.set(key[0], (keys = new Map()))
    keys.set(key.join("/"), value)
  }
  async remove(key) {
    this.documents.get(key[0])?.delete(key.join("/"))
  }
  async loadRange(prefix) {
    const start = prefix.join("/")
    const keys = this.documents.get(prefix[0]) ?? new Map()
    return [...keys].filter(([k]) => k === start || k.startsWith(start + "/")).map(([k, data]) => ({ key: k.split("/"), data }))
  }
  async removeRange(prefix) {
    for (const { key } of await this.loadRange(prefix)) await this.remove(key)
  }
}

const task = i => ({ title: `Task ${i}`, done: false, priority: i % 5 })

async function open() {
  const storage = new MemoryStorage()
  return Database.open({ repo: new Repo({ storage, network: [] }), machine: await Machine.generate(), storage, types: [Task] })
}

async function measure(kind, size) {
  // Warm up first (V8 compiling Automerge's WebAssembly and our code takes about a second in a fresh process).
  const warm = await open()
  let ids = []
  await warm.transaction(tx => (ids = Array.from({ length: 500 }, (_, i) => tx.create(Task, task(i)))))
  await warm.transaction(tx => ids.forEach(id => tx.change(Task, id, d => (d.done = true))))
  const db = await open()
  if (kind === "change") await db.transaction(tx => (ids = Array.from({ length: size }, (_, i) => tx.create(Task, task(i)))))
  const start = performance.now()
  const cpu = process.cpuUsage()
  if (kind === "create") await db.transaction(tx => Array.from({ length: size }, (_, i) => tx.create(Task, task(i))))
  else await db.transaction(tx => ids.forEach(id => tx.change(Task, id, d => (d.done = true))))
  const used = process.cpuUsage(cpu)
  return { ms: performance.now() - start, cpuMs: (used.user + used.system) / 1000 }
}

if (process.argv[2] === "--one") {
  process.stdout.write(JSON.stringify(await measure(process.argv[3], Number(process.argv[4]))))
  process.exit(0)
}

const runs = Number(process.argv[2] ?? 3)
const sizes = (process.argv[3] ?? "1000,2000,5000,10000").split(",").map(Number)
const self = fileURLToPath(import.meta.url)
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const seconds = ms => `${(ms / 1000).toFixed(2)} s`
const perDocument = (ms, size) => `${((ms * 1000) / size).toFixed(0)} µs`
console.log(`load average ${os.loadavg()[0].toFixed(1)} at the start`)
console.log("| work | documents | time (median) | per document | CPU time (median) | per document | runs |")
console.log("|---|---|---|---|---|---|---|")
for (const kind of ["create", "change"]) {
  for (const size of sizes) {
    const samples = []
    for (let run = 0; run < runs; run++) {
      try {
        samples.push(
          JSON.parse(
            execFileSync(process.execPath, [self, "--one", kind, String(size)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
          ),
        )
      } catch (error) {
        console.log(
          `| ${kind} | ${size} | failed: ${
            String(error.stderr)
              .split("\n")
              .find(line => /Error/.test(line)) ?? error.message
          } |`,
        )
        break
      }
    }
    if (samples.length < runs) continue
    const ms = median(samples.map(s => s.ms))
    const cpuMs = median(samples.map(s => s.cpuMs))
    console.log(
      `| ${kind} | ${size.toLocaleString("en-US")} | ${seconds(ms)} | ${perDocument(ms, size)} | ${seconds(cpuMs)} | ${perDocument(cpuMs, size)} | ${samples.map(s => seconds(s.ms)).join(", ")} |`,
    )
  }
}
console.log(`load average ${os.loadavg()[0].toFixed(1)} at the end`)
