// Folder sync benchmark: two peers sync 1,000 small tasks through a shared
// folder (FolderSync) and, side by side, over WebSocket on 127.0.0.1.
//
//   npx turbo run build && node packages/node/bench/folder.mjs [runs=3]
//
// Per run, alternating folder and WebSocket on fresh data directories:
// 1. initial: A holds 1,000 tasks, B none; time until B holds them all
//    (folder: A's sync, then B's; WebSocket: connect until both in sync);
// 2. again after 10 of them changed on A: the same time, and for the folder
//    the bytes of the file A wrote.
// Medians of `runs` runs.
import { mkdtemp, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defineType, f } from "@cairn/core"
import { NodePeer } from "../dist/index.js"

const runs = Number(process.argv[2] ?? 3)
const DOCS = 1_000
const Task = defineType("task", { fields: { title: f.string(), done: f.boolean().default(false) } })

async function pair() {
  const dirs = await Promise.all([0, 1, 2].map(() => mkdtemp(join(tmpdir(), "cairn-bench-folder-"))))
  const a = await NodePeer.open({ dir: dirs[0], types: [Task] })
  const b = await NodePeer.open({ dir: dirs[1], types: [Task] })
  await a.trust.trust(b.db.machine.publicKey, { read: "*", write: "*" })
  await b.trust.trust(a.db.machine.publicKey, { read: "*", write: "*" })
  await a.db.transaction(tx => {
    for (let i = 0; i < DOCS; i++) tx.create(Task, { title: `Task number ${i}` })
  })
  const close = async () => {
    await a.close()
    await b.close()
    await Promise.all(dirs.map(dir => rm(dir, { recursive: true, force: true })))
  }
  return { a, b, folder: dirs[2], close }
}

async function changeTen(a) {
  const ids = [...a.db.catalog.idsOfType("task")].slice(0, 10)
  for (const id of ids) await a.db.change(Task, id, draft => void (draft.done = true))
}

async function viaFolder() {
  const { a, b, folder, close } = await pair()
  const [fa, fb] = [await a.syncFolder(folder), await b.syncFolder(folder)]
  let start = performance.now()
  await fa.sync()
  await fb.sync()
  const initial = performance.now() - start
  if (b.db.catalog.size !== DOCS) throw new Error(`B holds ${b.db.catalog.size}`)
  await changeTen(a)
  start = performance.now()
  const written = await fa.sync()
  const received = await fb.sync()
  const again = performance.now() - start
  if (received.received !== 10) throw new Error(`B received ${received.received}`)
  const bytes = (await stat(written.written[0])).size
  await close()
  return { initial, again, bytes }
}

async function viaWebSocket() {
  const { a, b, close } = await pair()
  const { url } = await a.listen({ port: 0 })
  let start = performance.now()
  b.connect(url, {})
  await b.whenSynced(60_000)
  const initial = performance.now() - start
  if (b.db.catalog.size !== DOCS) throw new Error(`B holds ${b.db.catalog.size}`)
  b.network.disconnect(url)
  await changeTen(a)
  start = performance.now()
  b.connect(url, {})
  await b.whenSynced(60_000)
  const again = performance.now() - start
  await close()
  return { initial, again }
}

const median = values => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]
const folder = []
const ws = []
for (let run = 0; run < runs; run++) {
  folder.push(await viaFolder())
  ws.push(await viaWebSocket())
}
const ms = value => `${Math.round(value)} ms`
const row = (what, key) => {
  const f = median(folder.map(r => r[key]))
  const w = median(ws.map(r => r[key]))
  console.log(`${what.padEnd(40)} folder ${ms(f).padStart(8)}   WebSocket ${ms(w).padStart(8)}   ${(f / w).toFixed(2)}x`)
}
row("initial, 1,000 tasks", "initial")
row("after 10 of 1,000 changed", "again")
console.log(`bytes of the folder file for 10 changed: ${median(folder.map(r => r.bytes))}`)
