#!/usr/bin/env node
// What an idle client costs a relay in memory: one `cairn serve --relay
// --open` process (over PostgreSQL with --store postgres, the default, or its
// embedded log storage with --store embedded), a few small documents in it,
// and 0, 100, 500 … clients that connect, sync them, and stay connected doing
// nothing. After each step the relay's garbage is collected (through its
// inspector, on 127.0.0.1) and its resident memory and V8 heap are read.
//
//   node test/bench/idle-connections.mjs [--counts 0,100,500] [--docs 5] [--store postgres|embedded] [--json FILE]
//
// The clients are NodePeers, 100 to a process (idle-client.mjs). Everything
// runs on this machine over loopback. PostgreSQL: $CAIRN_TEST_POSTGRES if set,
// else a throwaway cluster (test/helpers/postgres.sh). Run after a build.
import { execFileSync, spawn } from "node:child_process"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { NodePeer } from "@cairn/node"
import pg from "pg"
import { WebSocket } from "ws"
import { types } from "../fixtures/types.mjs"

const args = Object.fromEntries(process.argv.slice(2).flatMap((arg, i, all) => (arg.startsWith("--") ? [[arg.slice(2), all[i + 1]]] : [])))
const COUNTS = (args.counts ?? "0,100,500").split(",").map(Number)
const DOCS = Number(args.docs ?? 5)
const STORE = args.store ?? "postgres"
const PER_PROCESS = 100
const CLI = fileURLToPath(new URL("../../packages/cli/bin/cairn.js", import.meta.url))
const CLIENT = fileURLToPath(new URL("./idle-client.mjs", import.meta.url))
const POSTGRES_SH = fileURLToPath(new URL("../helpers/postgres.sh", import.meta.url))
if (!["postgres", "embedded"].includes(STORE)) throw new Error(`--store is postgres or embedded, not ${STORE}`)
if (COUNTS.some((n, i) => !Number.isInteger(n) || n < 0 || n > 2_000 || (i > 0 && n < COUNTS[i - 1])))
  throw new Error(`--counts is a rising list of whole numbers up to 2000, not ${args.counts}`)

const scratch = await mkdtemp(join(tmpdir(), "cairn-bench-idle-"))
let stopPostgres = () => {}
let storeArgs = []
let dropSchema = async () => {}
if (STORE === "postgres") {
  let baseUrl = process.env.CAIRN_TEST_POSTGRES
  if (!baseUrl) {
    const env = { ...process.env, CAIRN_TEST_POSTGRES_STATE: join(scratch, "postgres.state") }
    baseUrl = execFileSync(POSTGRES_SH, ["start"], { env, encoding: "utf8" })
      .trim()
      .replace(/^export CAIRN_TEST_POSTGRES=/, "")
    stopPostgres = () => execFileSync(POSTGRES_SH, ["stop"], { env })
  }
  const schema = `bench_idle_${Date.now()}`
  storeArgs = ["--store", `${baseUrl}${baseUrl.includes("?") ? "&" : "?"}schema=${schema}`]
  dropSchema = async () => {
    const admin = new pg.Client({ connectionString: baseUrl })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await admin.end()
  }
}

/** The relay, with its inspector on 127.0.0.1 (a port of the system's choosing) for collecting its garbage. */
function relayProcess() {
  const child = spawn(
    process.execPath,
    ["--inspect=127.0.0.1:0", CLI, "--data", join(scratch, "relay"), "serve", "--relay", "--open", ...storeArgs, "--port", "0"],
    { stdio: ["ignore", "pipe", "pipe"] },
  )
  let stderr = ""
  const inspector = new Promise(resolve =>
    child.stderr.on("data", text => {
      stderr += text
      const url = /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1]
      if (url) resolve(url)
    }),
  )
  const listening = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", line => resolve(line.replace(/^listening on /, "")))
    child.once("exit", code => reject(new Error(`the relay exited with ${code}: ${stderr}`)))
  })
  return { child, listening, inspector }
}

/** Calls over the inspector protocol. */
async function inspect(url) {
  const socket = new WebSocket(url)
  await new Promise((resolve, reject) => {
    socket.once("open", resolve)
    socket.once("error", reject)
  })
  let next = 0
  const pending = new Map()
  socket.on("message", data => {
    const message = JSON.parse(String(data))
    pending.get(message.id)?.(message)
    pending.delete(message.id)
  })
  const call = (method, params = {}) =>
    new Promise(resolve => {
      const id = ++next
      pending.set(id, resolve)
      socket.send(JSON.stringify({ id, method, params }))
    })
  return { call, close: () => socket.close() }
}

async function rssOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024
}

/** A process of PER_PROCESS (or fewer) idle clients; resolves once all have synced. */
function clientProcess(index, count, url) {
  const child = spawn(process.execPath, [CLIENT, `--dir=${join(scratch, `clients-${index}`)}`, `--count=${count}`, `--url=${url}`], {
    stdio: ["pipe", "pipe", "inherit"],
  })
  const synced = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", line => resolve(JSON.parse(line)))
    child.once("exit", code => reject(new Error(`client process ${index} exited with ${code}`)))
  })
  return {
    synced,
    close: () =>
      new Promise(resolve => {
        child.once("exit", resolve)
        child.stdin.end()
      }),
  }
}

const relay = relayProcess()
const clients = []
const results = []
let debug
try {
  const url = await relay.listening
  debug = await inspect(await relay.inspector)
  await debug.call("Runtime.enable")
  const seeder = await NodePeer.open({ dir: join(scratch, "seeder"), types, localSocket: false, log: () => {} })
  for (let i = 0; i < DOCS; i++) await seeder.db.create("task", { title: `task ${i}` })
  seeder.connect(url)
  await seeder.whenSynced(30_000)
  await seeder.close()

  const measure = async () => {
    // Twice, with a pause: a first collection leaves finalizers that free more.
    for (let i = 0; i < 2; i++) {
      await debug.call("HeapProfiler.collectGarbage")
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    const { result } = await debug.call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())" })
    return { rss: await rssOf(relay.child.pid), ...JSON.parse(result.result.value) }
  }
  let connected = 0
  for (const target of COUNTS) {
    const adding = []
    while (connected < target) {
      const count = Math.min(PER_PROCESS, target - connected)
      const client = clientProcess(clients.length, count, url)
      clients.push(client)
      adding.push(client.synced)
      connected += count
    }
    const synced = await Promise.all(adding)
    if (synced.some(s => s.documents < DOCS)) throw new Error("a client did not get every document")
    // Settled: connections idle, the sync finished everywhere.
    await new Promise(resolve => setTimeout(resolve, 2_000))
    const memory = await measure()
    results.push({ clients: target, ...memory })
    const base = results[0]
    const per = (key, r) => (r.clients > base.clients ? ((r[key] - base[key]) / (r.clients - base.clients) / 1024).toFixed(0) : "–")
    const last = results.at(-1)
    process.stdout.write(
      `${String(target).padStart(5)} idle clients: RSS ${(last.rss / 2 ** 20).toFixed(1)} MB, heap used ${(last.heapUsed / 2 ** 20).toFixed(1)} MB, ` +
        `external ${(last.external / 2 ** 20).toFixed(1)} MB; per client ${per("rss", last)} KB RSS, ${per("heapUsed", last)} KB heap\n`,
    )
  }
} finally {
  debug?.close()
  await Promise.all(clients.map(client => client.close()))
  relay.child.kill("SIGTERM")
  if (relay.child.exitCode === null) await new Promise(resolve => relay.child.once("exit", resolve))
  await dropSchema()
  stopPostgres()
  await rm(scratch, { recursive: true, force: true })
}
process.stdout.write(`store: ${STORE}, ${DOCS} documents, clients ${PER_PROCESS} to a process\n`)
if (args.json) await writeFile(args.json, JSON.stringify({ date: new Date().toISOString(), store: STORE, docs: DOCS, results }, null, 2))
