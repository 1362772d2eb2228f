// T1: real editing traces through the typed API, against raw Automerge
// (`A.change` + `A.splice` on a document holding only the text; no repo, no
// disk) applying the same transactions. Cairn: one db.change per
// transaction of the trace on a note (a text field), STEP changes in flight
// at a time, every one acknowledged on disk; then the directory is opened
// again and the note read back (db.get, its text read) against A.load of the
// same stored bytes. A concurrent trace is replayed between two Cairn peers
// (each writer's transactions are db.change calls on its own peer, the other
// writer's changes arrive through the replication path, exactly those the
// transaction had seen), against two raw Automerge documents doing the same;
// both must end at the trace's endContent, or the workload fails.
// Each repetition is a fresh process per side, alternating which goes first.
import { atMost, ratioText, row } from "../lib/report.mjs"

const STEP = 1000
/** Transactions of automerge-paper in the smoke run (a few seconds; seph-blog1 and the concurrent trace only in a full run). */
const QUICK_PREFIX = 1000

export default {
  id: "T1",
  async run(ctx) {
    const limit = ctx.quick ? QUICK_PREFIX : undefined
    const rows = []
    const raw = {}
    for (const name of ctx.quick ? ["automerge-paper"] : ["automerge-paper", "seph-blog1"]) {
      const results = await ctx.alternate(`T1 ${name}`, async (kind, rep) => {
        const dir = await ctx.scratch.dir(`t1-${name}-${kind}-${rep}`)
        return ctx.withPeer(kind, `t1-${name}`, peer => peer.call("textTrace", { name, limit, dir, step: ctx.quick ? 100 : STEP }))
      })
      raw[name] = results
      rows.push(...sequentialRows(name, results, limit))
    }
    if (!ctx.quick) {
      const name = "friendsforever"
      const results = await ctx.alternate(`T1 ${name}`, async (kind, rep) => {
        const dirs = [await ctx.scratch.dir(`t1-${name}-a-${rep}`), await ctx.scratch.dir(`t1-${name}-b-${rep}`)]
        return ctx.withPeer(kind, `t1-${name}`, peer => peer.call("concurrentTrace", { name, dirs }))
      })
      raw[name] = results
      const edits = results.cairn[0]?.edits ?? 0
      rows.push(
        row({
          id: "T1",
          what: `${name} (concurrent, 2 writers, ${edits.toLocaleString("en-US")} edits) replayed between two peers, ending at endContent`,
          unit: "ms",
          cairn: results.cairn.map(x => x.ms),
          plain: results.plain.map(x => x.ms),
          target: "report",
          note: `${results.cairn[0]?.syncs ?? 0} deliveries between the peers`,
        }),
        row({
          id: "T1",
          what: `${name}: the same, CPU time of the process`,
          unit: "ms",
          cairn: results.cairn.map(x => x.cpuMs),
          plain: results.plain.map(x => x.cpuMs),
          target: "report",
        }),
      )
    }
    return { rows, raw }
  },
}

function sequentialRows(name, results, limit) {
  const edits = results.cairn[0]?.edits ?? 0
  const what = `${name}${limit ? ` (first ${limit.toLocaleString("en-US")} transactions)` : ""}, ${edits.toLocaleString("en-US")} edits`
  const whole = row({
    id: "T1",
    what: `${what}: typed db.change vs A.change + A.splice`,
    unit: "ms",
    cairn: results.cairn.map(x => x.ms),
    plain: results.plain.map(x => x.ms),
    target: name === "automerge-paper" ? "≤ 1.5x raw" : "report",
  })
  if (name === "automerge-paper")
    Object.assign(
      whole,
      atMost(whole.ratio, 1.5, v => `${ratioText(v)} raw`),
    )
  const cpu = row({
    id: "T1",
    what: `${what}: the same, CPU time of the process`,
    unit: "ms",
    cairn: results.cairn.map(x => x.cpuMs),
    plain: results.plain.map(x => x.cpuMs),
    target: "report",
  })
  const perEdit = (part, key) =>
    row({
      id: "T1",
      what: `${what}: µs per edit over the ${part} 20%`,
      unit: "µs",
      cairn: results.cairn.map(x => x[key] * 1000),
      plain: results.plain.map(x => x[key] * 1000),
      target: part === "last" ? "no growth" : "report",
    })
  const first = perEdit("first", "firstMsPerEdit")
  const last = perEdit("last", "lastMsPerEdit")
  // Grows with the text if the last 20% costs Cairn much more per edit than the first, beyond what it costs Automerge itself.
  const growth = first.cairn && last.cairn ? last.cairn.median / first.cairn.median : null
  const rawGrowth = first.plain && last.plain ? last.plain.median / first.plain.median : null
  Object.assign(last, {
    ...atMost(
      growth !== null && rawGrowth ? growth / rawGrowth : null,
      1.5,
      () => `last ÷ first: ${ratioText(growth)} (raw ${ratioText(rawGrowth)})`,
    ),
  })
  const load = row({
    id: "T1",
    what: `${what}: read the note back after reopening (db.get) vs A.load of the same bytes`,
    unit: "ms",
    cairn: results.cairn.map(x => x.loadMs),
    plain: results.cairn.map(x => x.rawLoadMs),
    target: name === "automerge-paper" ? "≤ 1.2x A.load" : "report",
    note: `document ${Math.round((results.cairn[0]?.bytes ?? 0) / 1024)} KB stored`,
  })
  if (name === "automerge-paper")
    Object.assign(
      load,
      atMost(load.ratio, 1.2, v => `${ratioText(v)} A.load`),
    )
  return [whole, cpu, first, last, load]
}
