#!/usr/bin/env node
// Where T1's floor is: the first N transactions of the automerge-paper trace
// applied in one process, alternating, as (1) raw Automerge on a document
// holding only the text, (2) raw Automerge on a document of Cairn's shape
// (the text at data.body beside the envelope's keys), (3) Cairn's typed
// draft inside A.change on that shape (no database: the draft alone).
// CPU time of the process, median of `reps`. Run after a build:
//   node test/bench/text-floor.mjs [N=15000] [reps=5]
import * as A from "@automerge/automerge"
import { draftOfData } from "../../packages/core/dist/document/draft.js"
import { loadTrace } from "./lib/traces.mjs"
import { median } from "./lib/stats.mjs"

const n = Number(process.argv[2] ?? 15000)
const reps = Number(process.argv[3] ?? 5)
const { txns } = loadTrace("automerge-paper", n)
const fields = { body: { kind: "text", default: "" } }
const envelope = () =>
  A.from({
    v: 1,
    type: new A.ImmutableString("note"),
    createdBy: new A.ImmutableString("m"),
    createdAt: 0,
    typeVersion: 1,
    deletedAt: null,
    data: { body: "" },
  })

const variants = {
  "raw, text at the root": [
    () => A.from({ text: "" }),
    (doc, txn) => A.change(doc, { time: 1 }, d => txn.patches.forEach(([at, del, ins]) => A.splice(d, ["text"], at, del, ins))),
  ],
  "raw, Cairn's document shape": [
    envelope,
    (doc, txn) => A.change(doc, { time: 1 }, d => txn.patches.forEach(([at, del, ins]) => A.splice(d, ["data", "body"], at, del, ins))),
  ],
  "typed draft, Cairn's document shape": [
    envelope,
    (doc, txn) =>
      A.change(doc, { time: 1 }, d => {
        const draft = draftOfData(d, fields)
        for (const [at, del, ins] of txn.patches) draft.body.splice(at, del, ins)
      }),
  ],
}

const samples = Object.fromEntries(Object.keys(variants).map(name => [name, []]))
for (let rep = 0; rep < reps; rep++)
  for (const [name, [make, apply]] of Object.entries(variants)) {
    let doc = make()
    const cpu = process.cpuUsage()
    for (const txn of txns) doc = apply(doc, txn)
    const used = process.cpuUsage(cpu)
    samples[name].push((used.user + used.system) / 1000)
  }
const base = median(samples["raw, text at the root"])
console.log(`first ${txns.length.toLocaleString("en-US")} transactions of automerge-paper, CPU ms, median of ${reps}`)
for (const [name, values] of Object.entries(samples))
  console.log(`${name.padEnd(38)} ${median(values).toFixed(0).padStart(6)} ms  ${(median(values) / base).toFixed(2)}x`)
