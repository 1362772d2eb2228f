#!/usr/bin/env node
// Summarize a V8 CPU profile (node --cpu-prof): by self time, the functions
// where the time was actually spent, with their file and line; with
// --inclusive, by inclusive time (the function and everything it called),
// which shows which layer a cost belongs to.
//   node test/bench/profile-summary.mjs FILE.cpuprofile [--top 25] [--inclusive] [--match packages/core]
// --match keeps only functions whose file path contains the text.
import { readFileSync } from "node:fs"
import { relative } from "node:path"

const frameKey = node => {
  const { functionName, url, lineNumber } = node.callFrame
  const file = url ? relative(process.cwd(), url.replace(/^file:\/\//, "")) : ""
  return `${functionName || "(anonymous)"}  ${file}${file ? `:${lineNumber + 1}` : ""}`
}

export function summarize(profile, { top = 25, inclusive = false, match } = {}) {
  const byId = new Map(profile.nodes.map(node => [node.id, node]))
  const parent = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const time = new Map()
  const deltas = profile.timeDeltas
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const us = deltas[i] ?? 0
    total += us
    const keys = new Set()
    for (let id = profile.samples[i]; id !== undefined; id = inclusive ? parent.get(id) : undefined) keys.add(frameKey(byId.get(id)))
    for (const key of keys) if (!match || key.includes(match)) time.set(key, (time.get(key) ?? 0) + us)
  }
  const rows = [...time.entries()]
    .filter(([key]) => !inclusive || key !== "(root)  ")
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
  return { totalMs: total / 1000, rows: rows.map(([name, us]) => ({ name, ms: us / 1000, share: us / total })) }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const option = name => {
    const i = args.indexOf(name)
    return i >= 0 ? args[i + 1] : undefined
  }
  const { totalMs, rows } = summarize(JSON.parse(readFileSync(args[0], "utf8")), {
    top: Number(option("--top") ?? 25),
    inclusive: args.includes("--inclusive"),
    match: option("--match"),
  })
  console.log(`total sampled ${totalMs.toFixed(0)} ms`)
  for (const row of rows) console.log(`${(row.share * 100).toFixed(1).padStart(5)}%  ${row.ms.toFixed(0).padStart(7)} ms  ${row.name}`)
}
