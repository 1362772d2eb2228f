// Load: one server peer process and one load process holding many clients
// (each a NodePeer with its own WebSocket), editing shared and private
// documents for a while. No errors, every client converges with the server,
// the server's memory stays bounded; throughput and latency are measured.
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Random } from "./random.mjs"
import { newData } from "./ops.mjs"
import { ReliabilityPeer } from "./ReliabilityPeer.mjs"

const LOAD_CLIENTS = fileURLToPath(new URL("../../fixtures/load-clients.mjs", import.meta.url))
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const MB = 1024 * 1024

/**
 * @param {{ clients?: number, seconds?: number, rate?: number, seed?: number, shared?: number, progress?: (line: string) => void }} options
 */
export async function runLoad(options = {}) {
  const clients = options.clients ?? 50
  const seconds = options.seconds ?? 10
  const rate = options.rate ?? 4
  const seed = options.seed ?? 1
  const rng = new Random(seed)
  const root = await mkdtemp(join(tmpdir(), "cairn-load-server-"))
  const result = { clients, seconds, rate, seed, edits: 0, editsPerSecond: 0, ackMs: null, propagationMs: null, settleMs: null, memory: null, failures: [] }
  const fail = message => result.failures.push(message)
  const server = await ReliabilityPeer.start({ dir: join(root, "server") })
  let load
  try {
    const { url } = await server.call("listen")
    await server.call("trackLatency")
    const shared = []
    for (let i = 0; i < (options.shared ?? 5); i++) shared.push(await server.call("create", { type: "board", data: newData(rng, "board") }))

    load = spawn(process.execPath, [LOAD_CLIENTS, `--server=${url}`, `--clients=${clients}`, `--seconds=${seconds}`, `--rate=${rate}`, `--seed=${seed}`, `--shared=${shared.join(",")}`], { stdio: ["ignore", "pipe", "pipe"] })
    const loadErr = []
    load.stderr.on("data", chunk => loadErr.push(String(chunk)))
    let report
    const done = new Promise((resolve, reject) => {
      createInterface({ input: load.stdout }).on("line", line => {
        let message
        try {
          message = JSON.parse(line)
        } catch {
          return
        }
        if (message.progress) options.progress?.(message.progress)
        if (message.result) report = message.result
      })
      load.on("close", code => (report ? resolve(report) : reject(new Error(`load process exited (${code}) without a result\n${loadErr.join("").slice(-4000)}`))))
    })

    // Sample the server's memory while the clients work.
    const samples = []
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const memory = await server.call("memory").catch(() => undefined)
        if (memory) samples.push({ at: Date.now(), rss: memory.rss, heap: memory.heapUsed })
        await sleep(500)
      }
    })()
    report = await done
    sampling = false
    await sampler

    result.edits = report.edits
    result.editsPerSecond = Math.round(report.edits / (report.editingMs / 1000))
    result.ackMs = report.ackMs
    result.settleMs = report.settleMs
    result.propagationMs = await server.call("latency")
    for (const error of report.errors) fail(`load: ${error}`)
    if (report.errorCount > report.errors.length) fail(`load: ${report.errorCount - report.errors.length} more errors`)
    const unexpected = await server.call("unexpected")
    for (const error of unexpected) fail(`server: ${error}`)
    const serverLog = server.stderr.join("").trim()
    if (serverLog) fail(`server logged problems: ${serverLog.slice(0, 2000)}`)

    // Converged (each client waited until it and the server were in sync both ways): every client's copy of every document it holds has the server's heads; counters add up.
    const serverHeads = await server.call("heads")
    let diverged = 0
    for (const [id, copies] of Object.entries(report.heads)) {
      for (const copy of copies) if (copy !== serverHeads[id]) diverged++
    }
    if (diverged > 0) fail(`${diverged} client copies differ from the server's after the final sync`)
    for (const id of shared) {
      const doc = await server.call("get", { id })
      const expected = report.increments[id] ?? 0
      if (doc.data.votes !== expected) fail(`shared ${id}: counter is ${doc.data.votes} on the server, the clients' acknowledged increments add up to ${expected}`)
    }
    if (report.edits === 0) fail("no edits were made")

    // Bounded memory: the server's heap at the end of the run is not running away from where it stood early on.
    if (samples.length >= 4) {
      const quarter = Math.max(1, Math.floor(samples.length / 4))
      const early = Math.max(...samples.slice(0, quarter).map(s => s.heap))
      const late = Math.max(...samples.slice(-quarter).map(s => s.heap))
      const rssMax = Math.max(...samples.map(s => s.rss))
      result.memory = { heapEarlyMB: Math.round(early / MB), heapLateMB: Math.round(late / MB), rssMaxMB: Math.round(rssMax / MB), samples: samples.length }
      if (late > early * 2 + 64 * MB) fail(`server heap grew from ${Math.round(early / MB)} MB to ${Math.round(late / MB)} MB during the run`)
      if (rssMax > 1024 * MB) fail(`server RSS reached ${Math.round(rssMax / MB)} MB`)
    }
  } catch (error) {
    fail(`run aborted: ${error?.stack ?? error}`)
  } finally {
    if (load && load.exitCode === null) load.kill("SIGKILL")
    await server.stop()
    await rm(root, { recursive: true, force: true })
  }
  return result
}
