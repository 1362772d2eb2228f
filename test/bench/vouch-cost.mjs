#!/usr/bin/env node
// What signed changes (issue 20) cost with vouches (packages/core/src/identity/vouch.ts): the time to sign one
// at a commit, to check one on arrival, and to find the unvouched changes of a message, here the first N
// transactions of the automerge-paper trace sent at once (decoding each change for its hash, actor and deps, then
// the walk). Medians of `reps`. Run after a build:
//   node test/bench/vouch-cost.mjs [N=20000] [reps=5]
import * as A from "@automerge/automerge"
import { Machine } from "../../packages/core/dist/identity/Machine.js"
import { newSessionActor } from "../../packages/core/dist/identity/actor.js"
import { makeVouch, unvouched, vouchSigner } from "../../packages/core/dist/identity/vouch.js"
import { loadTrace } from "./lib/traces.mjs"
import { median } from "./lib/stats.mjs"

const n = Number(process.argv[2] ?? 20000)
const reps = Number(process.argv[3] ?? 5)
const DOC = "4NMNnkMhL8jXrdJ9jamS58PAVdXu"
const machine = await Machine.generate()

const { txns } = loadTrace("automerge-paper", n)
let doc = A.from({ text: "" }, { actor: newSessionActor(machine.machineId) })
for (const txn of txns) doc = A.change(doc, { time: 1 }, d => txn.patches.forEach(([at, del, ins]) => A.splice(d, ["text"], at, del, ins)))
const changes = A.getAllChanges(doc)
const head = A.getHeads(doc)[0]

const signs = []
const checks = []
const walks = []
const decodes = []
for (let rep = 0; rep < reps; rep++) {
  let t = performance.now()
  const vouches = []
  for (let i = 0; i < 200; i++) vouches.push(await makeVouch(machine, DOC, head))
  signs.push(((performance.now() - t) / 200) * 1000)
  t = performance.now()
  for (const vouch of vouches) await vouchSigner(DOC, vouch)
  checks.push(((performance.now() - t) / 200) * 1000)
  t = performance.now()
  const links = changes.map(bytes => {
    const { hash, actor, deps } = A.decodeChange(bytes)
    return { hash, actor, deps }
  })
  decodes.push(((performance.now() - t) / changes.length) * 1000)
  t = performance.now()
  const left = unvouched(links, [{ hash: head, machineId: machine.machineId }])
  walks.push(((performance.now() - t) / changes.length) * 1000)
  if (left.length !== 0) throw new Error(`${left.length} changes left unvouched`)
}
const binaryBytes = (await makeVouch(machine, DOC, head)).byteLength
console.log(
  JSON.stringify({
    changes: changes.length,
    signUs: +median(signs).toFixed(1),
    checkUs: +median(checks).toFixed(1),
    decodeUsPerChange: +median(decodes).toFixed(2),
    walkUsPerChange: +median(walks).toFixed(2),
    vouchBytes: binaryBytes,
    documentBytes: A.save(doc).length,
  }),
)
