// The real editing traces (../shared/data/editing-traces, see its README)
// and what replaying one needs on either side: its transactions, the points
// where the time is noted, and, for a concurrent trace, which of the other
// writer's transactions each one had seen.
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { gunzipSync } from "node:zlib"
import * as A from "@automerge/automerge"

const TRACES = [
  fileURLToPath(new URL("../../../../shared/data/editing-traces/", import.meta.url)),
  fileURLToPath(new URL("../../../shared/data/editing-traces/", import.meta.url)),
  "/work/shared/data/editing-traces/",
]

/** A prefix of automerge-paper kept in the repository (test/fixtures/editing-traces/README.md), for a machine without the traces. */
const FIXTURE = {
  name: "automerge-paper",
  transactions: 3000,
  path: fileURLToPath(new URL("../../fixtures/editing-traces/automerge-paper-3000.json.gz", import.meta.url)),
}

/** A trace by name (`automerge-paper`), its first `limit` transactions if given. A prefix ends at the text its transactions make. */
export function loadTrace(name, limit) {
  const dir = TRACES.find(path => existsSync(`${path}${name}.json.gz`))
  if (!dir && name === FIXTURE.name && limit !== undefined && limit <= FIXTURE.transactions) {
    const prefix = JSON.parse(gunzipSync(readFileSync(FIXTURE.path)).toString("utf8"))
    const txns = prefix.txns.slice(0, limit)
    return { ...prefix, txns, endContent: applyToString(prefix.startContent ?? "", txns) }
  }
  if (!dir) throw new Error(`editing trace ${name} not found (looked in ${TRACES.join(", ")})`)
  const trace = JSON.parse(gunzipSync(readFileSync(`${dir}${name}.json.gz`)).toString("utf8"))
  if (limit === undefined || limit >= trace.txns.length) return trace
  const txns = trace.txns.slice(0, limit)
  return { ...trace, txns, endContent: trace.kind === "concurrent" ? undefined : applyToString(trace.startContent ?? "", txns) }
}

/** The text a sequential trace's transactions make (a string model: positions are UTF-16 units, which the traces' ASCII and BMP text shares with code points). */
export function applyToString(start, txns) {
  let text = start
  for (const { patches } of txns) for (const [at, del, ins] of patches) text = text.slice(0, at) + ins + text.slice(at + del)
  return text
}

export const editsOf = txns => txns.reduce((n, txn) => n + txn.patches.length, 0)

/**
 * Replay `txns` in steps of `step` transactions (`applyStep(from, to)`
 * resolves when they are applied), noting the time after each step.
 * Returns the total and the ms per edit over the first and the last 20% of
 * the edits (from the step boundaries nearest those points).
 */
export async function replayInSteps(txns, step, applyStep) {
  const marks = [{ edits: 0, at: performance.now() }]
  const cpu = process.cpuUsage()
  let edits = 0
  for (let from = 0; from < txns.length; from += step) {
    const to = Math.min(txns.length, from + step)
    await applyStep(from, to)
    for (let i = from; i < to; i++) edits += txns[i].patches.length
    marks.push({ edits, at: performance.now() })
  }
  const first = marks.find(mark => mark.edits >= edits * 0.2) ?? marks.at(-1)
  const last = [...marks].reverse().find(mark => mark.edits <= edits * 0.8) ?? marks[0]
  const end = marks.at(-1)
  const used = process.cpuUsage(cpu)
  return {
    ms: end.at - marks[0].at,
    // This process's CPU time: on a loaded machine, the fairer of the two figures.
    cpuMs: (used.user + used.system) / 1000,
    edits,
    firstMsPerEdit: (first.at - marks[0].at) / first.edits,
    lastMsPerEdit: (end.at - last.at) / (end.edits - last.edits),
  }
}

/** Raw Automerge: one A.change with A.splice per transaction, on a document holding only the text. */
export async function rawReplay(trace, step) {
  let doc = A.from({ text: trace.startContent ?? "" })
  const result = await replayInSteps(trace.txns, step, async (from, to) => {
    for (let i = from; i < to; i++)
      doc = A.change(doc, d => {
        for (const [at, del, ins] of trace.txns[i].patches) A.splice(d, ["text"], at, del, ins)
      })
  })
  if (doc.text !== trace.endContent) throw new Error(`raw Automerge ended at a text of ${doc.text.length} characters, not the trace's end`)
  const bytes = A.save(doc)
  const loadMs = timeLoad(bytes, loaded => loaded.text.length)
  return { ...result, bytes: bytes.byteLength, loadMs }
}

/** Time A.load of `bytes` and reading the loaded document (`read`). */
export function timeLoad(bytes, read) {
  const start = performance.now()
  read(A.load(bytes))
  return performance.now() - start
}

/**
 * For each transaction of a concurrent trace, how many of each writer's
 * transactions it had seen (its parents and theirs), and its place in its
 * own writer's sequence. A writer's transactions follow one another, so
 * "seen n of writer w" means w's first n.
 */
export function concurrentPlan(trace) {
  const writers = trace.numAgents ?? 1 + Math.max(...trace.txns.map(txn => txn.agent))
  const seen = []
  const index = []
  const counts = new Array(writers).fill(0)
  trace.txns.forEach((txn, t) => {
    const vector = new Array(writers).fill(0)
    for (const parent of txn.parents) {
      const theirs = seen[parent]
      for (let w = 0; w < writers; w++) vector[w] = Math.max(vector[w], theirs[w])
      const p = trace.txns[parent]
      vector[p.agent] = Math.max(vector[p.agent], index[parent] + 1)
    }
    index[t] = counts[txn.agent]++
    if (vector[txn.agent] !== index[t]) throw new Error(`trace transaction ${t} does not follow its writer's previous one`)
    seen[t] = vector
  })
  return { writers, seen }
}

/**
 * Replay a concurrent trace between `writers` replicas, each transaction on
 * its writer's replica once that replica has exactly the other writers'
 * transactions it had seen. `side` does the work: `change(w, txn)` applies
 * a transaction locally (may resolve later), `settle(w)` waits for w's
 * changes, `changesOf(w)` lists w's own changes so far (each one
 * transaction, in order), `deliver(w, changes)` applies another writer's
 * changes at w, `text(w)` reads w's text. Every replica ends at the trace's
 * endContent, or this throws.
 */
export async function replayConcurrent(trace, side) {
  const { writers, seen } = concurrentPlan(trace)
  const delivered = Array.from({ length: writers }, () => new Array(writers).fill(0))
  const start = performance.now()
  const cpu = process.cpuUsage()
  let syncs = 0
  for (const [t, txn] of trace.txns.entries()) {
    const w = txn.agent
    for (let other = 0; other < writers; other++) {
      const want = seen[t][other]
      if (other === w || delivered[w][other] >= want) continue
      await side.settle(other)
      await side.settle(w)
      const changes = (await side.changesOf(other)).slice(delivered[w][other], want)
      if (changes.length !== want - delivered[w][other])
        throw new Error(`writer ${other} has made ${changes.length} of the changes writer ${w} needs`)
      await side.deliver(w, changes)
      delivered[w][other] = want
      syncs++
    }
    await side.change(w, txn)
  }
  for (let w = 0; w < writers; w++) await side.settle(w)
  // At the end every replica takes every change, as a sync would leave them.
  for (let w = 0; w < writers; w++)
    for (let other = 0; other < writers; other++) {
      if (other === w) continue
      const changes = (await side.changesOf(other)).slice(delivered[w][other])
      if (changes.length) await side.deliver(w, changes)
    }
  const ms = performance.now() - start
  const used = process.cpuUsage(cpu)
  for (let w = 0; w < writers; w++) {
    const text = await side.text(w)
    if (text !== trace.endContent)
      throw new Error(
        `replica ${w} ended at a text of ${text.length} characters that is not the trace's endContent (${trace.endContent.length})`,
      )
  }
  return { ms, cpuMs: (used.user + used.system) / 1000, edits: editsOf(trace.txns), syncs }
}

/** Raw Automerge replaying a concurrent trace: one document per writer, changes moved with getChanges/applyChanges. */
export async function rawConcurrent(trace) {
  const { writers } = concurrentPlan(trace)
  const docs = Array.from({ length: writers }, () => undefined)
  const base = A.from({ text: "" })
  const own = Array.from({ length: writers }, () => [])
  for (let w = 0; w < writers; w++) docs[w] = A.clone(base)
  return replayConcurrent(trace, {
    change: (w, txn) => {
      const before = A.getHeads(docs[w])
      docs[w] = A.change(docs[w], d => {
        for (const [at, del, ins] of txn.patches) A.splice(d, ["text"], at, del, ins)
      })
      own[w].push(...A.getBackend(docs[w]).getChanges(before))
    },
    settle: () => {},
    changesOf: w => own[w],
    deliver: (w, changes) => {
      ;[docs[w]] = A.applyChanges(docs[w], changes)
    },
    text: w => docs[w].text,
  })
}
