#!/usr/bin/env node
// What publishing definitions on open costs: a data directory of N documents of 10 types (default 10,000), opened
// again and again, side by side with `publishDefinitions: false` (what opening cost before peers published on open).
// Each open is NodePeer.open then db.list of one type, in one process; medians of --reps opens each, alternated.
// The first open of the directory with publishing on (no ledger yet: it reads the schema documents and publishes the
// 10 definitions) is timed once. Build first (npm run build).
//   node test/bench/open-publish.mjs [--docs=10000] [--reps=7]
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defineType, f } from "@cairn/core"
import { NodePeer } from "@cairn/node"

const args = Object.fromEntries(process.argv.slice(2).map(arg => arg.replace(/^--/, "").split("=")))
const docs = Number(args.docs ?? 10_000)
const reps = Number(args.reps ?? 7)
const types = Array.from({ length: 10 }, (_, n) =>
  defineType(`type${n}`, { fields: { title: f.string(), done: f.boolean().default(false), votes: f.counter() } }),
)
const dir = await mkdtemp(join(tmpdir(), "cairn-open-publish-"))
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

async function timedOpen(publishDefinitions) {
  const started = performance.now()
  const peer = await NodePeer.open({ dir, types, publishDefinitions, localSocket: false })
  const listed = await peer.db.list(types[3])
  const ms = performance.now() - started
  const published = peer.peer.published.published.length
  await peer.close()
  if (listed.length !== docs / 10) throw new Error(`listed ${listed.length}, expected ${docs / 10}`)
  return { ms, published }
}

try {
  const seed = await NodePeer.open({ dir, types, publishDefinitions: false, localSocket: false })
  for (let start = 0; start < docs; start += 1000)
    await seed.db.transaction(tx => {
      for (let n = start; n < start + 1000; n++) tx.create(types[n % 10], { title: `doc ${n}` })
    })
  await seed.close()
  await timedOpen(false) // warm-up: the first open in a process pays for loading modules
  const first = await timedOpen(true)
  const off = []
  const on = []
  for (let rep = 0; rep < reps; rep++) {
    off.push((await timedOpen(false)).ms)
    const again = await timedOpen(true)
    if (again.published !== 0) throw new Error(`published ${again.published} on a later open`)
    on.push(again.ms)
  }
  console.log(
    JSON.stringify({
      docs,
      reps,
      firstOpenPublishingMs: Math.round(first.ms),
      firstOpenPublished: first.published,
      openMedianMs: { publishDefinitionsFalse: Math.round(median(off)), publishOnOpen: Math.round(median(on)) },
      ratio: Number((median(on) / median(off)).toFixed(3)),
      all: { publishDefinitionsFalse: off.map(Math.round), publishOnOpen: on.map(Math.round) },
    }),
  )
} finally {
  await rm(dir, { recursive: true, force: true })
}
