// P3: W3's reconnect, Cairn against PouchDB. Both sides hold the same N
// documents (the client got them by a full sync: P2's directory if it ran,
// then its process ended); the server changes 10; a new client process opens
// a copy of its directory and syncs. PouchDB's client resumes from the
// checkpoints its earlier sync left, two ways: `db.sync` (both ways, as P2
// synced) and pull only (`replicate.from`). A one-shot `db.sync` into an
// empty database leaves its push checkpoint at the start, so its next sync
// offers the server every document it pulled (a revs_diff of N): the pull-only
// side shows the reconnect without that. Timed from the client's process
// start (opening the directory included) and from connect.
import { sharedSource } from "../lib/sync.mjs"
import { row } from "../lib/report.mjs"
import { syncNewClient, VERSUS, versusPouch } from "../lib/versus.mjs"

const CHANGED = 10
/** The sides measured: Cairn, and PouchDB both ways and pull only. */
const SIDES = { cairn: ["cairn", {}], "pouch-sync": ["pouch", {}], "pouch-pull": ["pouch", { pull: true }] }

export default {
  id: "P3",
  async run(ctx) {
    const count = ctx.documents(10000)
    const timeoutMs = ctx.quick ? 60_000 : 30 * 60_000
    const sources = {}
    const synced = {}
    const changedIds = {}
    for (const kind of VERSUS) {
      sources[kind] = await sharedSource(ctx, kind, count)
      synced[kind] = ctx.recall(`synced-${kind}-${count}`)
      if (!synced[kind]) {
        synced[kind] = await ctx.scratch.dir(`p3-client-synced-${kind}`)
        const setup = await syncNewClient(ctx, { kind, label: "p3-client-setup", source: sources[kind], dir: synced[kind], timeoutMs })
        if (setup.timedOut || setup.count !== count) throw new Error(`P3 setup (${kind}): the client got ${setup.count} of ${count} documents`)
      }
      const ids = sources[kind].entries.map(e => e.id).sort()
      changedIds[kind] = Array.from({ length: CHANGED }, (_, i) => ids[Math.floor((i * ids.length) / CHANGED)])
    }
    const results = await ctx.alternate(
      "P3",
      async (side, rep) => {
        const [kind, syncArgs] = SIDES[side]
        const source = sources[kind]
        const dir = await ctx.scratch.copy(synced[kind], `p3-client-${side}-${rep}`)
        const change = await source.peer.call("changeSome", { ids: changedIds[kind] })
        const want = new Map(change.heads.map(h => [h.id, [...h.heads].sort().join()]))
        const after = async client => (await client.call("heads", { ids: changedIds[kind] })).filter(h => want.get(h.id) === [...h.heads].sort().join()).length
        const result = await syncNewClient(ctx, { kind, label: "p3-client", source, dir, syncArgs, timeoutMs, quietCapMs: ctx.quick ? 30_000 : 10 * 60_000, after })
        const arrived = result.after
        if (!result.timedOut && arrived !== CHANGED) throw new Error(`P3 ${side}: ${arrived} of ${CHANGED} changed documents arrived`)
        return result
      },
      { kinds: Object.keys(SIDES) },
    )
    const n = count.toLocaleString("en-US")
    const rows = []
    for (const [side, how] of [["pouch-sync", "db.sync"], ["pouch-pull", "pull only"]]) {
      const timedOut = { cairn: results.cairn.some(x => x.timedOut), plain: results[side].some(x => x.timedOut) }
      const series = (what, unit, key) => row({ id: "P3", what, unit, cairn: results.cairn.map(x => x[key]), plain: results[side].map(x => x[key]), timedOut, ...versusPouch })
      rows.push(
        series(`reconnect, ${n} on both sides, ${CHANGED} changed, PouchDB ${how}: time from the client's process start`, "ms", "fromStartMs"),
        series(`the same, PouchDB ${how}: time from connect`, "ms", "ms"),
        series(`the same, PouchDB ${how}: bytes on the wire`, "bytes", "bytes"),
      )
    }
    rows.push(row({ id: "P3", what: "reconnect: opening the directory (in the time from process start)", unit: "ms", cairn: results.cairn.map(x => x.openMs), plain: results["pouch-pull"].map(x => x.openMs), ...versusPouch }))
    return { rows, raw: results }
  },
}
