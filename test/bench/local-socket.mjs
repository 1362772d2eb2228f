#!/usr/bin/env node
// What going through the machine's peer costs an app: the same writes and
// reads made by a `cairn`-like holder process itself (peer.db) and by an app
// in another process through its local socket (openLocal). Wall time per
// operation, median of `reps` runs of N each. Run after a build:
//   node test/bench/local-socket.mjs [N=300] [reps=3]
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { defineType, f } from "@cairn/core"
import { NodePeer, openLocal } from "@cairn/node"
import { median } from "./lib/stats.mjs"

const Task = defineType("task", { fields: { title: f.string(), votes: f.counter(), notes: f.text().default("") } })
const n = Number(process.argv[2] ?? 300)
const reps = Number(process.argv[3] ?? 3)

async function measure(db) {
  const task = await db.create(Task, { title: "warm up" })
  const timed = async run => {
    const started = performance.now()
    for (let i = 0; i < n; i++) await run(i)
    return (performance.now() - started) / n
  }
  return {
    create: await timed(i => db.create(Task, { title: `task ${i}` })),
    "change (counter)": await timed(() => db.change(Task, task.id, draft => draft.votes.increment())),
    "change (text splice)": await timed(i => db.change(Task, task.id, draft => draft.notes.splice(i, 0, "x"))),
    get: await timed(() => db.get(Task, task.id)),
  }
}

if (process.argv[2] === "--holder") {
  // The holder: a peer on the directory, idle until stdin closes.
  const peer = await NodePeer.open({ dir: process.argv[3], types: [Task] })
  process.stdout.write("ready\n")
  process.stdin.resume().on("end", () => peer.close().then(() => process.exit(0)))
} else {
  const rows = { "peer.db": [], "openLocal (socket)": [] }
  for (let rep = 0; rep < reps; rep++) {
    const own = await mkdtemp(join(tmpdir(), "cairn-bench-local-"))
    const peer = await NodePeer.open({ dir: own, types: [Task] })
    rows["peer.db"].push(await measure(peer.db))
    await peer.close()
    const shared = await mkdtemp(join(tmpdir(), "cairn-bench-local-"))
    const holder = spawn(process.execPath, [new URL(import.meta.url).pathname, "--holder", shared], { stdio: ["pipe", "pipe", "inherit"] })
    await new Promise(resolve => createInterface({ input: holder.stdout }).once("line", resolve))
    const app = await openLocal({ dir: shared, types: [Task] })
    if (app.via !== "socket") throw new Error("the app did not go through the holder's socket")
    rows["openLocal (socket)"].push(await measure(app))
    await app.close()
    holder.stdin.end()
    await new Promise(resolve => holder.once("exit", resolve))
    await Promise.all([own, shared].map(dir => rm(dir, { recursive: true, force: true })))
  }
  console.log(`ms per operation, median of ${reps} runs of ${n}:`)
  for (const [name, runs] of Object.entries(rows)) {
    const cells = Object.keys(runs[0]).map(op => `${op} ${median(runs.map(run => run[op])).toFixed(2)}`)
    console.log(`${name.padEnd(20)} ${cells.join("  ")}`)
  }
}
