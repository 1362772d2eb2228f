// P1: creating documents in one process, Cairn against PouchDB. A new
// process on an empty directory creates N tasks in steps of 1,000, each
// step timed: Cairn one `db.transaction` per step against PouchDB's
// `bulkDocs` of the step; and one by one (a step's creates in flight at
// once: `db.create` against `db.post`). A series stops after the step that
// passes its time budget (reported as "did not finish", a lower bound).
import { diskUsage } from "../lib/fixtures.mjs"
import { row } from "../lib/report.mjs"
import { versusPouch } from "../lib/versus.mjs"

const SIDES = { "cairn-tx": ["cairn", false], "cairn-each": ["cairn", true], "pouch-bulk": ["pouch", false], "pouch-each": ["pouch", true] }

export default {
  id: "P1",
  async run(ctx) {
    const count = ctx.docs ?? (ctx.quick ? 100 : ctx.large ? 100000 : 10000)
    const step = ctx.quick ? 10 : 1000
    const budgetMs = ctx.quick ? 20_000 : 5 * 60_000
    const results = await ctx.alternate(
      "P1",
      async side => {
        const [kind, each] = SIDES[side]
        const dir = await ctx.scratch.dir(`p1-${side}`)
        const made = await ctx.withPeer(kind, `p1-${side}`, async peer => {
          await peer.call("open", { dir })
          const series = await peer.call("createSeries", { count, step, each, budgetMs })
          return { ...series, rss: (await peer.call("rss")).rss }
        })
        const { steps } = made
        ctx.log(`P1 ${side}: step times (ms) ${steps.map(ms => ms.toFixed(0)).join(" ")}`)
        return { ...made, first: steps[0], last: steps.at(-1), disk: (await diskUsage(dir)).allocated }
      },
      { kinds: Object.keys(SIDES) },
    )
    return { rows: rowsOf(results, { count, step, budgetMs }), raw: results }
  },
}

/** The rows of P1's results: each Cairn series against its PouchDB counterpart. */
export function rowsOf(results, { count, step, budgetMs }) {
  const n = count.toLocaleString("en-US")
  const s = step.toLocaleString("en-US")
  const rows = []
  for (const [cairn, pouch, how] of [
    ["cairn-tx", "pouch-bulk", `db.transaction vs bulkDocs, ${s} a step`],
    ["cairn-each", "pouch-each", `one by one (db.create vs db.post), ${s} in flight`],
  ]) {
    const timedOut = { cairn: results[cairn].some(x => x.timedOut), plain: results[pouch].some(x => x.timedOut) }
    const series = (what, unit, key, marks = {}) =>
      row({
        id: "P1",
        what,
        unit,
        cairn: results[cairn].map(x => x[key]),
        plain: results[pouch].map(x => x[key]),
        timedOut: marks,
        ...versusPouch,
      })
    rows.push(series(`create ${n} documents in one process, ${how}: time`, "ms", "ms", timedOut))
    if (timedOut.cairn || timedOut.plain)
      rows.push(series(`the same: documents made before the ${budgetMs / 60_000}-minute budget ran out`, "documents", "count"))
    rows.push(
      series(`the same: the first ${s}`, "ms", "first"),
      series(`the same: the last ${s} made`, "ms", "last"),
      series(`the same: data directory (allocated)`, "bytes", "disk"),
      series(`the same: RSS after GC`, "bytes", "rss"),
    )
  }
  return rows
}
