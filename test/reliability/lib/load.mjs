// Load: one server peer process (pre-shared-key auth, as `cairn serve --psk`)
// and many clients in separate processes (test/fixtures/load-clients.mjs; one
// client per process, or several), every client wanting every type, creating
// tasks of its own and editing them and a few shared boards for a while. Then
// the convergence check: every client and the server hold the same documents
// with the same heads, every acknowledged creation is on the server, and
// every counter there equals the sum of its acknowledged increments. Also: no
// errors in any process, the server's memory stays bounded; throughput and
// latency are measured.
import { setTimeout as sleep } from "node:timers/promises"
import { mkdtemp, rm } from "node:fs/promises"
import { setPriority, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Random } from "./random.mjs"
import { newData } from "./ops.mjs"
import { ReliabilityPeer } from "./ReliabilityPeer.mjs"

const LOAD_CLIENTS = fileURLToPath(new URL("../../fixtures/load-clients.mjs", import.meta.url))
const MB = 1024 * 1024
const PSK = "load-test-shared-secret"

/**
 * @param {{ clients?: number, processes?: number, seconds?: number, rate?: number, createRatio?: number, seed?: number,
 *   shared?: number, settleMs?: number, clientNice?: number, progress?: (line: string) => void }} options
 */
export async function runLoad(options = {}) {
  const clients = options.clients ?? 50
  const processes = Math.min(clients, options.processes ?? clients)
  const seconds = options.seconds ?? 10
  const rate = options.rate ?? 2
  const createRatio = options.createRatio ?? 0.2
  const seed = options.seed ?? 1
  const settleMs = options.settleMs ?? 60_000
  // With one client per process, 50 busy clients on one machine get 50 times the server's share of the CPU,
  // which a server whose clients are elsewhere never faces: `clientNice` (the soak uses 5) runs them at a lower priority.
  const clientNice = options.clientNice ?? 0
  const progress = options.progress ?? (() => {})
  const rng = new Random(seed)
  const root = await mkdtemp(join(tmpdir(), "cairn-load-server-"))
  const result = {
    clients,
    processes,
    seconds,
    rate,
    seed,
    edits: 0,
    editsPerSecond: 0,
    created: 0,
    documents: 0,
    ackMs: null,
    propagationMs: null,
    settleMs: null,
    stalls: 0,
    memory: null,
    failures: [],
  }
  const fail = message => result.failures.push(message)
  const server = await ReliabilityPeer.start({ dir: join(root, "server"), auth: `psk:${PSK}` })
  const loads = []
  try {
    const { url } = await server.call("listen")
    await server.call("trackLatency", { type: "task" })
    const shared = []
    for (let i = 0; i < (options.shared ?? 5); i++) shared.push(await server.call("create", { type: "board", data: newData(rng, "board") }))

    const started = Date.now()
    for (let p = 0; p < processes; p++) {
      const first = Math.floor((p * clients) / processes)
      const count = Math.floor(((p + 1) * clients) / processes) - first
      const args = [
        `--server=${url}`,
        `--first=${first}`,
        `--clients=${count}`,
        `--seed=${seed}`,
        `--shared=${shared.join(",")}`,
        `--psk=${PSK}`,
      ]
      const load = ReliabilityPeer.spawn({ fixture: LOAD_CLIENTS, args })
      if (clientNice) {
        try {
          setPriority(load.pid, clientNice)
        } catch {
          // Not permitted here: the clients run at the server's priority.
        }
      }
      loads.push(load)
    }
    await Promise.all(loads.map(load => load.started))
    progress(`${clients} clients in ${processes} processes connected in ${Date.now() - started} ms`)

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

    const editStarted = Date.now()
    const ticker = setInterval(() => progress(`${Math.round((Date.now() - editStarted) / 1000)} s of ${seconds} s`), 10_000)
    const reports = await Promise.all(loads.map(load => load.call("edit", { seconds, rate, createRatio })))
    clearInterval(ticker)
    const editingMs = Date.now() - editStarted
    result.edits = reports.reduce((n, r) => n + r.edits, 0)
    result.editsPerSecond = Math.round(result.edits / (editingMs / 1000))
    const created = reports.flatMap(r => r.created)
    result.created = created.length
    const ack = reports.flatMap(r => r.ackMs).sort((a, b) => a - b)
    result.ackMs = quantiles(ack)
    progress(
      `${result.edits} edits acknowledged (${created.length} creations) in ${editingMs} ms; waiting for every client to hold what the server holds`,
    )

    // Converge: poll until every client holds exactly the server's documents with the server's heads.
    const settleStarted = Date.now()
    let states
    let serverDigest
    for (;;) {
      serverDigest = await server.call("digest")
      states = (await Promise.all(loads.map(load => load.call("state")))).flatMap(state => state.clients)
      if (states.every(state => state.digest === serverDigest.digest)) break
      if (Date.now() - settleStarted > settleMs) break
      await sleep(250)
    }
    const converged = states.every(state => state.digest === serverDigest.digest)
    result.settleMs = converged ? Date.now() - settleStarted : null
    result.documents = serverDigest.documents
    sampling = false
    await sampler
    result.propagationMs = await server.call("latency")

    if (!converged) {
      const differing = states.filter(state => state.digest !== serverDigest.digest)
      const counts = differing.map(state => state.documents)
      fail(
        `${differing.length} of ${clients} clients differ from the server ${settleMs / 1000} s after the edits stopped ` +
          `(server: ${serverDigest.documents} documents; those clients hold ${Math.min(...counts)}–${Math.max(...counts)}); ` +
          `their sessions: ${JSON.stringify(differing.slice(0, 5).map(state => ({ client: state.index, documents: state.documents, peers: state.peers })))}`,
      )
      const serverPeers = await server.call("peers")
      const notInSync = serverPeers.filter(peer => peer.state !== "in-sync")
      fail(
        `the server's sessions: ${serverPeers.length} connected, ${notInSync.length} not in sync${notInSync.length ? `: ${JSON.stringify(notInSync.slice(0, 5).map(peer => ({ name: peer.name, state: peer.state, sent: peer.sent, received: peer.received, ...(peer.stalled ? { stalled: peer.stalled } : {}) })))}` : ""}`,
      )
      // Say what differs for one client.
      const sample = differing[0]
      const load = loads.find((_, p) => sample.index < Math.floor(((p + 1) * clients) / processes))
      const theirs = await load.call("entries", { client: sample.index })
      const ours = await server.call("heads")
      const missing = Object.keys(ours).filter(id => !(id in theirs))
      const extra = Object.keys(theirs).filter(id => !(id in ours))
      const stale = Object.keys(ours).filter(id => id in theirs && theirs[id] !== ours[id])
      fail(
        `client ${sample.index}: lacks ${missing.length} of the server's documents, has ${extra.length} the server lacks, ${stale.length} with other heads`,
      )
    }

    // Every acknowledged write is on the server: each creation, and every counter equals the sum of its acknowledged increments.
    const expected = {}
    for (const report of reports)
      for (const increments of report.increments) for (const [id, by] of Object.entries(increments)) expected[id] = (expected[id] ?? 0) + by
    const ids = [...new Set([...created, ...shared, ...Object.keys(expected)])]
    const counters = await server.call("counters", { ids })
    const missing = created.filter(id => counters[id] === null)
    if (missing.length > 0)
      fail(`${missing.length} of ${created.length} acknowledged creations are not on the server (e.g. ${missing.slice(0, 3).join(", ")})`)
    const behind = ids.filter(id => counters[id] !== null && (counters[id] ?? 0) !== (expected[id] ?? 0))
    if (behind.length > 0) {
      const examples = behind.slice(0, 3).map(id => `${id}: ${counters[id]} on the server, ${expected[id] ?? 0} acknowledged`)
      fail(`${behind.length} counters on the server differ from the sum of their acknowledged increments (${examples.join("; ")})`)
    }
    if (result.edits === 0) fail("no edits were made")

    // No errors anywhere. Stalls the replicator reported (a pull without progress for 30 s, then asked again) are
    // counted, not failures: on a machine this busy they are what the watchdog is for, and convergence was checked.
    const stalls = []
    for (const [p, load] of loads.entries()) {
      const state = await load.call("state")
      for (const error of state.errors) fail(`load process ${p}: ${error}`)
      if (state.errorCount > state.errors.length) fail(`load process ${p}: ${state.errorCount - state.errors.length} more errors`)
      result.stalls += state.stallCount
      stalls.push(...state.stalls)
    }
    for (const error of await server.call("unexpected")) fail(`server: ${error}`)
    const serverLines = server.stderr
      .join("")
      .split("\n")
      .filter(line => line.trim())
    const serverStalls = serverLines.filter(line => /^sync with peer [^:]+: /.test(line))
    result.stalls += serverStalls.length
    stalls.push(...serverStalls.map(line => `server: ${line}`))
    const serverLog = serverLines.filter(line => !serverStalls.includes(line)).join("\n")
    if (serverLog) fail(`server logged problems: ${serverLog.slice(0, 2000)}`)
    if (result.stalls > 0) progress(`${result.stalls} stalled pulls reported (and asked again), e.g. ${stalls.slice(0, 3).join("; ")}`)

    // Bounded memory: the server's heap at the end of the run is not running away from where it stood early on.
    if (samples.length >= 4) {
      const quarter = Math.max(1, Math.floor(samples.length / 4))
      const early = Math.max(...samples.slice(0, quarter).map(s => s.heap))
      const late = Math.max(...samples.slice(-quarter).map(s => s.heap))
      const rssMax = Math.max(...samples.map(s => s.rss))
      result.memory = {
        heapEarlyMB: Math.round(early / MB),
        heapLateMB: Math.round(late / MB),
        rssMaxMB: Math.round(rssMax / MB),
        samples: samples.length,
      }
      if (late > early * 2 + 64 * MB)
        fail(`server heap grew from ${Math.round(early / MB)} MB to ${Math.round(late / MB)} MB during the run`)
      if (rssMax > 1024 * MB) fail(`server RSS reached ${Math.round(rssMax / MB)} MB`)
    }
  } catch (error) {
    fail(`run aborted: ${error?.stack ?? error}`)
  } finally {
    await Promise.all(loads.map(load => load.stop()))
    await server.stop()
    await rm(root, { recursive: true, force: true })
  }
  return result
}

function quantiles(sorted) {
  const q = p => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null)
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: sorted.at(-1) ?? null }
}
