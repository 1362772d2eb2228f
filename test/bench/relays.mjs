#!/usr/bin/env node
// Relay processes over one PostgreSQL store: 1, 2 and 4 `cairn serve --relay
// --store postgres://…` processes, and client processes (relay-client.mjs)
// spread over them, each editing documents of its own while timing the other
// clients' changes as they arrive (change → other client, through the relay
// processes and PostgreSQL).
//
// For each number of relays, two phases of --seconds each:
//   paced:     every client makes --rate changes a second (an open loop), so
//              the latency is that of a relay that keeps up;
//   flat out:  every client keeps 4 changes in flight, as fast as they go:
//              the throughput, and the latency when everything is busy.
// Over the flat-out phase it also takes what the estimate in BENCHMARKS.md
// needs: the CPU time of the relay processes and of PostgreSQL's, the WAL
// PostgreSQL wrote and the growth of the store, each per change.
//
//   node test/bench/relays.mjs [--relays 1,2,4] [--clients 8 (or a list: 2,4,8)] [--docs 5] [--seconds 15] [--rate 10] [--json FILE]
//                              [--profile DIR]
//
// --profile DIR: every relay process writes a V8 CPU profile (node --cpu-prof) into DIR when it stops.
//
// PostgreSQL: $CAIRN_TEST_POSTGRES if set, else a throwaway cluster started
// (and removed) with test/helpers/postgres.sh. Every process runs on this
// machine, so the figures say what its cores can do, not what N machines
// would (see BENCHMARKS.md). Run after a build.
import { execFileSync, spawn } from "node:child_process"
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { percentile } from "./lib/stats.mjs"

const args = Object.fromEntries(process.argv.slice(2).flatMap((arg, i, all) => (arg.startsWith("--") ? [[arg.slice(2), all[i + 1]]] : [])))
const RELAYS = (args.relays ?? "1,2,4").split(",").map(Number)
const CLIENT_COUNTS = (args.clients ?? "8").split(",").map(Number)
const DOCS = Number(args.docs ?? 5)
const SECONDS = Number(args.seconds ?? 15)
const RATE = Number(args.rate ?? 10)
const PROFILE = args.profile ? ["--cpu-prof", `--cpu-prof-dir=${args.profile}`] : []
const CLI = fileURLToPath(new URL("../../packages/cli/bin/cairn.js", import.meta.url))
const CLIENT = fileURLToPath(new URL("./relay-client.mjs", import.meta.url))
const POSTGRES_SH = fileURLToPath(new URL("../helpers/postgres.sh", import.meta.url))

const scratch = await mkdtemp(join(tmpdir(), "cairn-bench-relays-"))
let startedPostgres = false
let baseUrl = process.env.CAIRN_TEST_POSTGRES
if (!baseUrl) {
  const env = { ...process.env, CAIRN_TEST_POSTGRES_STATE: join(scratch, "postgres.state") }
  const line = execFileSync(POSTGRES_SH, ["start"], { env, encoding: "utf8" })
  baseUrl = line.trim().replace(/^export CAIRN_TEST_POSTGRES=/, "")
  startedPostgres = () => execFileSync(POSTGRES_SH, ["stop"], { env })
}
const admin = new pg.Client({ connectionString: baseUrl })
await admin.connect()

/** CPU seconds (user + system) of a process, from /proc. */
async function cpuOf(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** Resident memory of a process (bytes), from /proc. */
async function rssOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "")
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** CPU seconds of the PostgreSQL server: the postmaster and every process it started (backends, WAL writer, checkpointer). */
async function postgresCpu() {
  const dataDir = (await admin.query("SELECT setting FROM pg_settings WHERE name = 'data_directory'")).rows[0].setting
  const postmaster = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0])
  let total = await cpuOf(postmaster)
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = await readFile(`/proc/${name}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      if (ppid === postmaster) total += await cpuOf(name)
    } catch {}
  }
  return total
}

/** The database's committed transactions and rows written so far (pg_stat_database; reads in their own transactions count too). */
async function databaseStats() {
  const { rows } = await admin.query(
    "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted AS rows FROM pg_stat_database WHERE datname = current_database()",
  )
  return { commits: Number(rows[0].xact_commit), rows: Number(rows[0].rows) }
}

async function walBytes(since) {
  const { rows } = await admin.query("SELECT pg_current_wal_lsn() AS lsn")
  if (!since) return { lsn: rows[0].lsn, bytes: 0 }
  const diff = await admin.query("SELECT pg_wal_lsn_diff($1, $2) AS bytes", [rows[0].lsn, since.lsn])
  return { lsn: rows[0].lsn, bytes: Number(diff.rows[0].bytes) }
}

/** A child process speaking relay-client.mjs's JSON lines. */
function clientProcess(name) {
  const child = spawn(process.execPath, [CLIENT, `--dir=${join(scratch, `client-${name}-${Date.now()}`)}`, `--name=${name}`], {
    stdio: ["pipe", "pipe", "inherit"],
  })
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
  return {
    child,
    ready,
    call,
    close: () =>
      new Promise(resolve => {
        child.once("exit", resolve)
        child.stdin.end()
      }),
  }
}

/** `cairn serve --relay --open --store URL` in a process of its own; `listening` resolves with its URL once it serves. */
function relayProcess(index, store) {
  const dir = join(scratch, `relay-${index}-${Date.now()}`)
  const child = spawn(process.execPath, [...PROFILE, CLI, "--data", dir, "serve", "--relay", "--open", "--store", store, "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  })
  let stderr = ""
  child.stderr.on("data", text => (stderr += text))
  const listening = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", line => resolve(line.replace(/^listening on /, "")))
    child.once("exit", code => reject(new Error(`relay ${index} exited with ${code}: ${stderr}`)))
  })
  listening.catch(() => {})
  return { child, listening, stderr: () => stderr }
}

const within = (promise, ms) => Promise.race([promise, new Promise(resolve => setTimeout(resolve, ms, undefined))])

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** One phase: every client edits for SECONDS (at `rate` a second each, or flat out), then the deliveries drain. */
async function phase(clients, rate, seconds = SECONDS) {
  const written = (await Promise.all(clients.map(c => c.call("run", { seconds, rate })))).reduce((n, r) => n + r.written, 0)
  const expected = written * (clients.length - 1)
  const received = async () => (await Promise.all(clients.map(c => c.call("results")))).reduce((n, r) => n + r.received, 0)
  // Drained when every change reached every other client, or nothing more arrives for 5 s.
  let last = -1
  let quietSince = Date.now()
  for (;;) {
    const now = await received()
    if (now >= expected) break
    if (now !== last) [last, quietSince] = [now, Date.now()]
    if (Date.now() - quietSince > 5_000) break
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  const results = await Promise.all(clients.map(c => c.call("results")))
  const samples = results.flatMap(r => r.samples).sort((a, b) => a - b)
  return {
    written,
    perSecond: written / seconds,
    delivered: samples.length / Math.max(1, expected),
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: samples.at(-1),
  }
}

async function run(relayCount, clientCount) {
  const schema = `bench_relays_${relayCount}_${Date.now()}`
  const store = `${baseUrl}${baseUrl.includes("?") ? "&" : "?"}schema=${schema}`
  const relays = Array.from({ length: relayCount }, (_, i) => relayProcess(i, store))
  const clients = []
  try {
    const urls = (await Promise.all(relays.map(relay => within(relay.listening, 15_000)))).filter(Boolean)
    const serving = urls.length
    if (serving < relayCount) process.stderr.write(`${relayCount} relays: only ${serving} serve (the others wait as standbys)\n`)
    const rssBefore = await Promise.all(relays.map(r => rssOf(r.child.pid)))
    for (let i = 0; i < clientCount; i++) clients.push(clientProcess(`c${i}`))
    await Promise.all(clients.map(c => c.ready))
    await Promise.all(clients.map((c, i) => c.call("connect", { url: urls[i % serving] })))
    await Promise.all(clients.map(c => c.call("create", { count: DOCS })))
    await until(
      async () => (await Promise.all(clients.map(c => c.call("count")))).every(n => n === clientCount * DOCS),
      60_000,
      "every client to hold every client's documents",
    )
    // A short paced phase first, not counted: code paths compiled in every process, PostgreSQL's caches warm.
    await phase(clients, RATE, 3)
    const rssAfter = await Promise.all(relays.map(r => rssOf(r.child.pid)))
    const paced = await phase(clients, RATE)
    const relayCpu0 = await Promise.all(relays.map(r => cpuOf(r.child.pid)))
    const pgCpu0 = await postgresCpu()
    const wal0 = await walBytes()
    const stats0 = await databaseStats()
    const size0 = Number((await admin.query(`SELECT pg_total_relation_size('"${schema}".chunks') AS n`)).rows[0].n)
    const flat = await phase(clients, 0)
    const relayCpu = (await Promise.all(relays.map(r => cpuOf(r.child.pid)))).reduce((n, cpu, i) => n + cpu - relayCpu0[i], 0)
    const pgCpu = (await postgresCpu()) - pgCpu0
    const wal = (await walBytes(wal0)).bytes
    // The statistics collector reports with a delay of up to a second (PostgreSQL 15 flushes them at most so often).
    await new Promise(resolve => setTimeout(resolve, 1_500))
    const stats = await databaseStats()
    const size = Number((await admin.query(`SELECT pg_total_relation_size('"${schema}".chunks') AS n`)).rows[0].n) - size0
    return {
      relays: relayCount,
      serving,
      clients: clientCount,
      relayRssPerClient: rssAfter.reduce((n, rss, i) => n + rss - rssBefore[i], 0) / clientCount,
      paced,
      flat,
      perChange: {
        relayCpuMs: (relayCpu * 1000) / flat.written,
        postgresCpuMs: (pgCpu * 1000) / flat.written,
        walBytes: wal / flat.written,
        storeBytes: size / flat.written,
        transactions: (stats.commits - stats0.commits) / flat.written,
        rowsWritten: (stats.rows - stats0.rows) / flat.written,
      },
    }
  } catch (error) {
    for (const [i, relay] of relays.entries()) process.stderr.write(`relay ${i} said:\n${relay.stderr().slice(-3000)}\n`)
    throw error
  } finally {
    await Promise.all(clients.map(c => c.close()))
    for (const relay of relays) relay.child.kill("SIGTERM")
    await Promise.all(relays.map(r => (r.child.exitCode === null ? new Promise(resolve => r.child.once("exit", resolve)) : undefined)))
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  }
}

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–")
const results = []
const load = [loadavg()[0]]
try {
  for (const n of RELAYS)
    for (const clientCount of CLIENT_COUNTS) {
      const result = await run(n, clientCount)
      results.push(result)
      const { paced, flat, perChange } = result
      process.stdout.write(
        `${n} relay(s), ${result.serving} serving, ${clientCount} clients (relay memory ${fmt(result.relayRssPerClient / 1024)} KB a client):\n` +
          `  paced (${RATE}/s a client): ${fmt(paced.perSecond)} changes/s, delivered ${fmt(paced.delivered * 100, 1)}%, ` +
          `latency p50 ${fmt(paced.p50)} ms, p99 ${fmt(paced.p99)} ms, max ${fmt(paced.max)} ms\n` +
          `  flat out: ${fmt(flat.perSecond)} changes/s, delivered ${fmt(flat.delivered * 100, 1)}%, ` +
          `latency p50 ${fmt(flat.p50)} ms, p99 ${fmt(flat.p99)} ms\n` +
          `  per change (flat out): relay CPU ${fmt(perChange.relayCpuMs, 2)} ms, PostgreSQL CPU ${fmt(perChange.postgresCpuMs, 2)} ms, ` +
          `WAL ${fmt(perChange.walBytes)} B, store growth ${fmt(perChange.storeBytes)} B, ` +
          `${fmt(perChange.transactions, 2)} transactions, ${fmt(perChange.rowsWritten, 2)} rows written\n`,
      )
    }
} finally {
  load.push(loadavg()[0])
  await admin.end()
  if (startedPostgres) startedPostgres()
  await rm(scratch, { recursive: true, force: true })
}
const header = { date: new Date().toISOString(), cores: cpus().length, load, docs: DOCS, seconds: SECONDS, rate: RATE }
process.stdout.write(`load average ${load.map(l => l.toFixed(1)).join(" → ")} on ${cpus().length} cores\n`)
if (args.json) await writeFile(args.json, JSON.stringify({ ...header, results }, null, 2))
