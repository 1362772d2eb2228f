#!/usr/bin/env node
// The long version of test/reliability: `npm run soak` (builds first).
//
//   node test/reliability/soak.mjs [--minutes=M] [--seeds=N] [--kills=K] [--only=convergence|crash|transactions|damage|load] ...
//
// By default it runs, in order: crash safety (--kills, default 50 SIGKILLs),
// transactions across a crash (--transactions, default 1,000, with SIGKILLs
// until they have all begun; --only=transactions --kills sets the least),
// damaged storage (every mode, one seed per mode), load (--clients=50, each
// in its own process unless --processes says fewer, for --seconds=60, then
// up to --settle=90 s for every client to hold what the server holds; with
// more than 10 processes the clients run at --nice=5), a fresh browser page
// pulling --browser-docs=100000 tasks (where Chromium is installed; the test
// in test/browser/peer.test.ts), then convergence fuzzing seeds (--steps=300
// each) until
// --minutes (default 10) have passed or --seeds seeds have run. A failure
// prints its seed and the command that replays it. The figures are printed
// and appended as a row to the "Soak runs" table of RELIABILITY.md; the exit
// code is 1 if anything failed.
//
// Replaying one case: --only=convergence --seed=S [--steps= --peers=],
// --only=crash --seed=S --kills=K, --only=damage --seed=S --mode=M,
// --only=load --clients=C --processes=P --seconds=T, --only=browser --browser-docs=N.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { readFile, writeFile } from "node:fs/promises"
import { availableParallelism, cpus } from "node:os"
import { fileURLToPath } from "node:url"
import { describeFailure, runConvergence } from "./lib/convergence.mjs"
import { crashReplayCommand, runCrashes } from "./lib/crash.mjs"
import { damageReplayCommand, MODES, runDamage } from "./lib/damage.mjs"
import { runLoad } from "./lib/load.mjs"
import { runTransactionCrashes, transactionReplayCommand } from "./lib/transactions.mjs"
import { randomSeed } from "./lib/random.mjs"

const args = Object.fromEntries(
  process.argv.slice(2).map(arg => {
    const [key, ...value] = arg.replace(/^--/, "").split("=")
    return [key, value.length ? value.join("=") : "true"]
  }),
)
const number = (name, fallback) => (args[name] === undefined ? fallback : Number(args[name]))
const only = args.only
// --seeds alone means "that many seeds", however long they take; otherwise fuzz for --minutes (default 10).
const minutes = number("minutes", args.seeds !== undefined ? Infinity : 10)
const deadline = Date.now() + minutes * 60_000
const started = Date.now()
const log = line => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`)

const summary = {
  convergence: { seeds: 0, failed: [], steps: 0, upstream: 0 },
  crash: null,
  transactions: null,
  damage: [],
  load: null,
  browser: null,
}
const failures = []

// A peer's unhandled rejection is a failure of the run, not a reason to stop the other checks.
process.on("unhandledRejection", error => failures.push(`unhandled rejection in the soak process: ${error?.stack ?? error}`))

if (!only || only === "crash") {
  const seed = number("seed", randomSeed())
  const kills = number("kills", 50)
  log(`crash safety: ${kills} SIGKILLs, seed ${seed}`)
  const result = await runCrashes({
    seed,
    kills,
    progress: line => (Number(line.match(/kill (\d+)/)?.[1]) % 10 === 0 ? log(`  ${line}`) : undefined),
  })
  summary.crash = result
  log(
    `  ${result.kills} kills (${result.killsWhileOpening} while opening), ${result.restarts} restarts, ${result.writes} acknowledged writes + ${result.sourceWrites} from the other peer, ${result.catalogRebuilds} catalog rebuilds, ${result.damagedReported} torn documents reported`,
  )
  if (result.failures.length)
    failures.push(
      `crash safety failed (seed ${seed}); replay: ${crashReplayCommand(result)}\n  ${result.failures.slice(0, 20).join("\n  ")}\n  data kept in ${result.dir}`,
    )
}

if (!only || only === "transactions") {
  const seed = number("seed", randomSeed())
  const kills = number("kills", 20)
  const transactions = number("transactions", 1000)
  log(`transactions across a crash: ${transactions} transactions, at least ${kills} SIGKILLs, seed ${seed}`)
  const result = await runTransactionCrashes({
    seed,
    kills,
    transactions,
    progress: line => (Number(line.match(/kill (\d+)/)?.[1]) % 10 === 0 ? log(`  ${line}`) : undefined),
  })
  summary.transactions = result
  log(
    `  ${result.kills} kills, ${result.begun} transactions begun, ${result.acknowledged} acknowledged, ${result.applied} on disk whole (${result.inFlightApplied} of them unacknowledged when killed), ${result.large} large; ${(result.durationMs / 1000).toFixed(0)} s`,
  )
  if (result.failures.length)
    failures.push(
      `transactions across a crash failed (seed ${seed}); replay: ${transactionReplayCommand(result)}\n  ${result.failures.slice(0, 20).join("\n  ")}\n  data kept in ${result.dir}`,
    )
}

if (!only || only === "damage") {
  const modes = args.mode ? [args.mode] : MODES
  for (const mode of modes) {
    const seed = number("seed", randomSeed())
    const result = await runDamage({ seed, mode })
    summary.damage.push(result)
    log(
      `damaged storage, ${mode} (seed ${seed}): ${result.damagedDocuments} documents damaged, ${result.reported} reported (${result.unknowable ?? 0} unknowable), ${result.recovered} recovered, catalog ${result.catalogRebuilt ? "rebuilt" : "kept"}`,
    )
    if (result.failures.length)
      failures.push(
        `damaged storage failed (${mode}, seed ${seed}); replay: ${damageReplayCommand(result)}\n  ${result.failures.slice(0, 20).join("\n  ")}`,
      )
  }
}

if (!only || only === "load") {
  const clients = number("clients", 50)
  const processes = number("processes", clients)
  const seconds = number("seconds", 60)
  log(`load: ${clients} clients in ${processes} processes for ${seconds} s`)
  const result = await runLoad({
    clients,
    processes,
    seconds,
    settleMs: number("settle", 90) * 1000,
    clientNice: number("nice", processes > 10 ? 5 : 0),
    ...(args.rate ? { rate: number("rate") } : {}),
    progress: line => log(`  ${line}`),
  })
  summary.load = result
  log(
    `  ${result.edits} edits (${result.created} creations), ${result.editsPerSecond}/s; local ack p50 ${result.ackMs?.p50} ms p99 ${result.ackMs?.p99} ms; at the server p50 ${result.propagationMs?.p50} ms p99 ${result.propagationMs?.p99} ms; every client held the server's ${result.documents} documents ${result.settleMs === null ? "NEVER" : `${result.settleMs} ms`} after the edits stopped; ${result.stalls} stalled pulls reported; server heap ${result.memory?.heapEarlyMB} → ${result.memory?.heapLateMB} MB, RSS max ${result.memory?.rssMaxMB} MB`,
  )
  if (result.failures.length) failures.push(`load failed: ${result.failures.slice(0, 20).join("\n  ")}`)
}

// A fresh browser page pulling --browser-docs tasks (default 100,000) from a node peer, in Chromium (test/browser/peer.test.ts).
if ((!only && existsSync(process.env.CHROMIUM_PATH ?? "/usr/bin/chromium")) || only === "browser") {
  const count = number("browser-docs", 100_000)
  log(`browser: a fresh page pulls ${count} tasks from a node peer (seeding them first takes a while)`)
  const run = spawnSync("npx", ["vitest", "run", "browser/peer.test.ts", "-t", "a fresh page pulls"], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: { ...process.env, CAIRN_BROWSER_PULL: String(count) },
    encoding: "utf8",
  })
  const output = `${run.stdout}${run.stderr}`
  const pulled = output.match(/browser pulled (\d+) tasks in (\d+) ms/)
  summary.browser = pulled ? { documents: Number(pulled[1]), ms: Number(pulled[2]) } : null
  if (run.status === 0 && pulled) log(`  pulled ${pulled[1]} tasks in ${(Number(pulled[2]) / 1000).toFixed(1)} s`)
  else failures.push(`browser pull of ${count} tasks failed:\n${output.slice(-4000)}`)
}

if (!only || only === "convergence") {
  const fixed = args.seed !== undefined && only === "convergence"
  const maxSeeds = fixed ? 1 : number("seeds", Infinity)
  const steps = number("steps", 300)
  while (summary.convergence.seeds < maxSeeds && (fixed || summary.convergence.seeds === 0 || Date.now() < deadline)) {
    const seed = fixed ? number("seed") : randomSeed()
    const result = await runConvergence({ seed, steps, ...(args.peers ? { peers: number("peers") } : {}) })
    summary.convergence.seeds++
    summary.convergence.steps += steps
    summary.convergence.upstream += result.upstream.length
    const line = `convergence seed ${seed}: ${result.peers} peers + relay, ${steps} steps, ${result.counts.restart} restarts, ${result.counts.partition} partitions, ${(result.durationMs / 1000).toFixed(1)} s`
    if (result.failures.length) {
      summary.convergence.failed.push(seed)
      failures.push(describeFailure(result))
      log(`${line}: FAILED`)
    } else {
      log(
        `${line}: converged${result.upstream.length ? ` (${result.upstream.length} Automerge in-memory/loaded differences, see RELIABILITY.md)` : ""}`,
      )
    }
  }
}

const elapsed = ((Date.now() - started) / 60_000).toFixed(1)
log(`done in ${elapsed} min on ${availableParallelism?.() ?? cpus().length} cores`)
const row = [
  new Date().toISOString().slice(0, 16).replace("T", " "),
  elapsed,
  summary.convergence.seeds
    ? `${summary.convergence.seeds} (${summary.convergence.failed.length} failed${summary.convergence.failed.length ? `: ${summary.convergence.failed.join(", ")}` : ""})`
    : "–",
  summary.crash
    ? `${summary.crash.kills} (${summary.crash.writes} writes, ${summary.crash.failures.length ? "LOST WRITES" : "none lost"})`
    : "–",
  summary.transactions
    ? `${summary.transactions.kills} kills, ${summary.transactions.begun} begun: ${summary.transactions.applied} whole on disk, the rest absent, ${summary.transactions.failures.length ? "SOME TORN" : "none torn"} (${summary.transactions.large} large)`
    : "–",
  summary.damage.length
    ? `${summary.damage.reduce((n, r) => n + r.recovered, 0)} of ${summary.damage.reduce((n, r) => n + r.damagedDocuments, 0)} docs, ${summary.damage.filter(r => r.failures.length === 0).length}/${summary.damage.length} modes`
    : "–",
  summary.load
    ? `${summary.load.clients} in ${summary.load.processes} processes × ${summary.load.seconds} s, ${summary.load.editsPerSecond} edits/s, p99 ${summary.load.propagationMs?.p99} ms, converged ${summary.load.settleMs === null ? "NEVER" : `${(summary.load.settleMs / 1000).toFixed(1)} s`} after, heap ${summary.load.memory?.heapEarlyMB}→${summary.load.memory?.heapLateMB} MB${summary.load.failures.length ? ", FAILED" : ""}`
    : "–",
]
await appendRow(`| ${row.join(" | ")} |`)

if (failures.length) {
  console.log(`\n${failures.length} failure(s):\n`)
  for (const failure of failures) console.log(`${failure}\n`)
  process.exit(1)
}
process.exit(0)

/** Append a row to the "Soak runs" table of RELIABILITY.md (made if missing). */
async function appendRow(row) {
  const path = fileURLToPath(new URL("../../RELIABILITY.md", import.meta.url))
  const header =
    "## Soak runs\n\nAppended by `npm run soak`: when, minutes, convergence seeds, SIGKILLs survived, transactions across SIGKILLs, damaged documents recovered, load.\n\n| date (UTC) | min | convergence seeds | kills | transactions | damaged docs recovered | load |\n|---|---|---|---|---|---|---|\n"
  let text = await readFile(path, "utf8").catch(() => "# Reliability\n")
  if (!text.includes("## Soak runs")) text = `${text.trimEnd()}\n\n${header}`
  await writeFile(path, `${text.trimEnd()}\n${row}\n`)
}
