#!/usr/bin/env node
// P3's reconnect, one build against another (or one build under different
// Node flags), alternating in one run: for each side, a server process on a
// copy of a P3 source of 10,000 documents, and for each repetition a fresh
// client process on a copy of a synced P3 client directory, which opens it,
// connects directly (no wire tap) and waits for `whenSynced`. Before each
// reconnect the server changes the same 10 documents again; every client
// copy starts from the same checkpoint.
//
//   node test/bench/run.js --only P3 --reps 1 --no-write --keep    # makes the directories
//   node test/bench/reconnect-sides.mjs --from /tmp/cairn-bench-XXXX --reps 9 SIDE...
//
// A SIDE is a checkout with its packages built (its test/bench/peer.mjs is
// the process run), optionally followed by `|` and Node flags for its
// clients: `/tmp/main /work/wt-perf` or `. ".|--liftoff-only"`. Printed per
// side: medians (and every repetition) of the client's time from process
// start to synced, opening the directory, connect to synced, and the
// client process's CPU time (all its threads) from connect to synced.
import { cp, mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { clock } from "./lib/measure.mjs"
import { median } from "./lib/stats.mjs"

const argv = process.argv.slice(2)
const option = name => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv.splice(i, 2)[1] : undefined
}
const from = option("--from")
const reps = Number(option("--reps") ?? 9)
if (!from || argv.length === 0) throw new Error("usage: reconnect-sides.mjs --from KEPT_DIR [--reps N] SIDE...")
const kept = await readdir(from)
const keptDir = suffix => {
  const name = kept.find(n => n.endsWith(suffix))
  if (!name) throw new Error(`no *${suffix} in ${from}: run P3 with --keep first`)
  return join(from, name)
}
const sourceDir = keptDir("-source-10000-cairn")
const clientDir = keptDir("-p3-client-cairn")
const CHANGED = 10

const work = await mkdtemp(join(tmpdir(), "reconnect-sides-"))
const sides = []
try {
  for (const [i, spec] of argv.entries()) {
    const [tree, flags = ""] = spec.split("|")
    const { Worker } = await import(join(resolve(tree), "test/bench/lib/Worker.mjs"))
    const dir = join(work, `source-${i}`)
    await cp(sourceDir, dir, { recursive: true })
    const server = await Worker.start("cairn", `source-${i}`)
    await server.call("open", { dir })
    const { port } = await server.call("listen")
    const ids = (await server.call("entries")).map(e => e.id).sort()
    const changed = Array.from({ length: CHANGED }, (_, k) => ids[Math.floor((k * ids.length) / CHANGED)])
    sides.push({ spec, flags, Worker, server, port, changed, runs: [] })
  }
  for (let rep = 0; rep < reps; rep++) {
    for (const side of rep % 2 === 0 ? sides : [...sides].reverse()) {
      await side.server.call("changeSome", { ids: side.changed })
      const dir = join(work, `client-${rep}-${sides.indexOf(side)}`)
      await cp(clientDir, dir, { recursive: true })
      // Worker.start reads the flags from the environment.
      process.env.BENCH_NODE_FLAGS = side.flags
      const spawnedAt = clock()
      const client = await side.Worker.start("cairn", "client")
      delete process.env.BENCH_NODE_FLAGS
      try {
        const opened = await client.call("open", { dir })
        const cpuBefore = (await client.call("cpu")).ms
        const synced = await client.call("syncFrom", { url: `ws://127.0.0.1:${side.port}`, timeoutMs: 60_000 })
        const cpuAfter = (await client.call("cpu")).ms
        if (synced.timedOut) throw new Error(`${side.spec}: the reconnect timed out`)
        side.runs.push({ fromStart: synced.doneAt - spawnedAt, open: opened.ms, connect: synced.ms, cpu: cpuAfter - cpuBefore })
      } finally {
        await client.stop()
        await rm(dir, { recursive: true })
      }
    }
  }
  for (const side of sides) {
    const figures = ["fromStart", "open", "connect", "cpu"].map(key => {
      const values = side.runs.map(run => run[key])
      return `${key} ${median(values).toFixed(0)} ms [${values.map(v => v.toFixed(0)).join(" ")}]`
    })
    console.log(`${side.spec} (n=${side.runs.length}): ${figures.join(" · ")}`)
  }
} finally {
  for (const side of sides) await side.server.stop()
  await rm(work, { recursive: true, force: true })
}
