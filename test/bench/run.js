#!/usr/bin/env node
// The benchmark suite: Cairn side by side with plain automerge-repo (W1–W9),
// with PouchDB (P1, P2, P3, P9: PouchDB's counterparts of W1, W2, W3, W9), and
// with raw Automerge on real editing traces (T1).
//
//   node test/bench/run.js [--quick] [--only W2,P2] [--reps N] [--plain-reps N] [--docs N] [--large] [--no-write] [--profile] [--keep]
//
// --quick      small N and one repetition (the CI smoke test), W1–W9 and T1 (a prefix of each
//              trace) unless --only names P workloads; figures are not written to BENCHMARKS.md
// --only       run some workloads; their results replace those in latest.json, the rest are kept
// --large      the P workloads also at 100,000 documents (P2's sync, P1's creation): minutes each
// --reps N     repetitions per workload (default 3; each runs Cairn and plain, alternating)
// --plain-reps N  repetitions of plain automerge-repo in the workloads of 10,000 documents
//              (default 1: one takes many minutes; Cairn still runs --reps times)
// --docs N     every workload of 1,000 or 10,000 documents at N instead (W2 at N only), to profile
//              or look at one size; implies --no-write
// --no-write   print only; write neither test/bench/results/latest.json nor BENCHMARKS.md
// --profile    every peer process writes a V8 CPU profile to test/bench/results/profiles/
//              (summarize one with: node test/bench/profile-summary.mjs FILE [--inclusive])
// --keep       keep the scratch directories (their path is printed)
//
// BENCH_NODE_FLAGS="--liftoff-only" starts every peer process, Cairn's and
// plain's alike, with these Node/V8 flags: to see what V8 compiling
// Automerge's WebAssembly costs a fresh process (see W2 in BENCHMARKS.md).
//
// Run through `npm run bench`, which builds the packages first: the peers
// import @cairn/core and @cairn/node from their dist folders.
import { execFileSync } from "node:child_process"
import { cpus, freemem, loadavg, totalmem } from "node:os"
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { Context } from "./lib/context.mjs"
import { Scratch } from "./lib/fixtures.mjs"
import { textTable, writeBenchmarks } from "./lib/report.mjs"
import { METHOD } from "./lib/method.mjs"
import { Worker } from "./lib/Worker.mjs"

const AGAINST_PLAIN = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9"]
const AGAINST_POUCH = ["P1", "P2", "P3", "P9"]
const AGAINST_RAW = ["T1"]
const ALL = [...AGAINST_PLAIN, ...AGAINST_POUCH, ...AGAINST_RAW]
const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url))
const LATEST = fileURLToPath(new URL("./results/latest.json", import.meta.url))
const BENCHMARKS = fileURLToPath(new URL("../../BENCHMARKS.md", import.meta.url))

function parseArgs(argv) {
  const options = {
    quick: false,
    large: false,
    docs: undefined,
    only: undefined,
    reps: undefined,
    plainReps: 1,
    write: true,
    profile: false,
    keep: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=")
    const value = () => inline ?? argv[++i]
    switch (flag) {
      case "--quick":
        options.quick = true
        break
      case "--only":
        options.only = value()
          .split(",")
          .map(s => s.trim().toUpperCase())
          .filter(Boolean)
        for (const id of options.only) if (!ALL.includes(id)) throw new Error(`unknown workload ${id}; there are ${ALL.join(", ")}`)
        break
      case "--reps":
        options.reps = Number(value())
        if (!Number.isInteger(options.reps) || options.reps < 1) throw new Error("--reps needs a whole number ≥ 1")
        break
      case "--plain-reps":
        options.plainReps = Number(value())
        if (!Number.isInteger(options.plainReps) || options.plainReps < 1) throw new Error("--plain-reps needs a whole number ≥ 1")
        break
      case "--docs":
        options.docs = Number(value())
        if (!Number.isInteger(options.docs) || options.docs < 10 || options.docs % 10 !== 0)
          throw new Error("--docs needs a whole number ≥ 10, a multiple of 10 (W4 and W9 use a tenth)")
        options.write = false
        break
      case "--large":
        options.large = true
        break
      case "--no-write":
        options.write = false
        break
      case "--profile":
        options.profile = true
        break
      case "--keep":
        options.keep = true
        break
      default:
        throw new Error(`unknown option ${argv[i]}; see the top of test/bench/run.js`)
    }
  }
  options.reps ??= options.quick ? 1 : 3
  // The smoke run stays within a minute: PouchDB's workloads join it only when named.
  options.only ??= options.quick ? [...AGAINST_PLAIN, ...AGAINST_RAW] : ALL
  return options
}

/** The commit measured, and whether the packages had uncommitted changes. */
function gitState() {
  try {
    const git = (...args) => execFileSync("git", args, { cwd: fileURLToPath(new URL("../..", import.meta.url)), encoding: "utf8" }).trim()
    return {
      commit: git("rev-parse", "--short", "HEAD"),
      uncommitted: git("status", "--porcelain", "--", "packages").split("\n").filter(Boolean).length,
    }
  } catch {
    return {}
  }
}

const options = parseArgs(process.argv.slice(2))
const log = message => console.log(`  · ${message}`)
const started = Date.now()
const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model?.trim() ?? "unknown CPU",
  memoryGB: totalmem() / 1024 ** 3,
  freeMemoryGB: freemem() / 1024 ** 3,
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  loadStart: loadavg(),
  ...gitState(),
}
console.log(
  `Cairn vs plain automerge-repo and PouchDB: ${options.only.join(", ")}; ${options.reps} repetition(s)${options.quick ? ", quick" : ""}${options.large ? ", large" : ""}${options.docs ? `, ${options.docs} documents` : ""}`,
)
console.log(
  `${machine.cores} cores (${machine.cpu}), Node ${machine.node}, load average ${machine.loadStart.map(n => n.toFixed(2)).join(" ")}`,
)

const scratch = await Scratch.create()
const profileDir = options.profile ? `${RESULTS_DIR}profiles` : undefined
if (profileDir) await mkdir(profileDir, { recursive: true })
const ctx = new Context({
  quick: options.quick,
  large: options.large,
  docs: options.docs,
  reps: options.reps,
  plainReps: options.plainReps,
  profileDir,
  scratch,
  log,
})

const cleanup = async () => {
  await ctx.close().catch(() => {})
  Worker.killAll()
  if (!options.keep) await scratch.remove()
}
process.on("SIGINT", () => {
  Worker.killAll()
  process.exit(130)
})
process.on("SIGTERM", () => {
  Worker.killAll()
  process.exit(143)
})

const workloads = []
for (const id of options.only) {
  const { default: workload } = await import(`./workloads/${id}.mjs`)
  const workloadStart = Date.now()
  // Kept with each workload's results, since a partial run (--only) merges them with an earlier run's.
  const loadAtStart = loadavg()[0]
  const runInfo = () => ({
    date: new Date(workloadStart).toISOString(),
    seconds: (Date.now() - workloadStart) / 1000,
    reps: options.reps,
    plainReps: options.plainReps,
    load: { start: loadAtStart, end: loadavg()[0] },
    commit: machine.commit,
    uncommitted: machine.uncommitted,
  })
  console.log(`\n${id}`)
  try {
    const { rows, raw } = await workload.run(ctx)
    workloads.push({ id, ...runInfo(), rows, raw })
    log(`${id} took ${((Date.now() - workloadStart) / 1000).toFixed(0)} s`)
  } catch (error) {
    console.error(`${id} failed: ${error?.stack ?? error}`)
    workloads.push({
      id,
      ...runInfo(),
      error: String(error?.message ?? error),
      rows: [
        {
          id,
          what: `FAILED: ${String(error?.message ?? error).split("\n")[0]}`,
          unit: "",
          cairn: null,
          plain: null,
          ratio: null,
          target: "",
          measured: "",
          met: false,
        },
      ],
    })
  }
}
machine.loadEnd = loadavg()
await cleanup()
if (options.keep) console.log(`scratch directories kept in ${scratch.root}`)

const results = {
  date: new Date(started).toISOString(),
  durationS: (Date.now() - started) / 1000,
  machine,
  options: { quick: options.quick, large: options.large, reps: options.reps, plainReps: options.plainReps, only: options.only },
  workloads,
}

console.log(`\n${textTable(workloads.flatMap(w => w.rows))}\n`)
console.log(`took ${(results.durationS / 60).toFixed(1)} min`)

if (options.write) {
  await mkdir(RESULTS_DIR, { recursive: true })
  // A partial run (--only) replaces its workloads in the latest results and keeps the others.
  let merged = results
  if (options.only.length < ALL.length) {
    const previous = JSON.parse(await readFile(LATEST, "utf8").catch(() => "null"))
    if (previous && previous.options.quick === options.quick) {
      // Each workload keeps the commit it measured (results from before this was recorded per workload: the earlier run's).
      const kept = previous.workloads
        .filter(w => !options.only.includes(w.id))
        .map(w => ({ commit: previous.machine.commit, uncommitted: previous.machine.uncommitted, ...w }))
      merged = { ...results, workloads: [...kept, ...workloads].sort((a, b) => ALL.indexOf(a.id) - ALL.indexOf(b.id)) }
    }
  }
  await writeFile(LATEST, JSON.stringify(merged, null, 1))
  console.log(`results: ${LATEST}`)
  if (!options.quick) {
    await writeBenchmarks(BENCHMARKS, merged, METHOD)
    console.log(`updated ${BENCHMARKS}`)
  }
}
process.exit(workloads.some(w => w.error) ? 1 : 0)
