// P2: W2's initial sync, Cairn against PouchDB. A server process holds N
// task documents; a new client process on an empty directory syncs them all.
// Cairn: as W2 (whenSynced: everything on disk). PouchDB: express-pouchdb
// serves the database; the client runs `db.sync(remote)` (both ways, as an
// app keeps its copy in step) until it completes. Timed from the client's
// process start, and from connect; the client's memory and directory after.
// The servers stay up across repetitions (Cairn's is W2's).
import { sharedSource } from "../lib/sync.mjs"
import { row } from "../lib/report.mjs"
import { syncNewClient, VERSUS, versusPouch } from "../lib/versus.mjs"

export default {
  id: "P2",
  async run(ctx) {
    const sizes = ctx.docs ? [ctx.docs] : ctx.quick ? [100] : ctx.large ? [1000, 10000, 100000] : [1000, 10000]
    const timeoutMs = ctx.syncTimeoutMs
    const rows = []
    const raw = {}
    for (const count of sizes) {
      const sources = {}
      for (const kind of VERSUS) sources[kind] = await sharedSource(ctx, kind, count)
      const results = await ctx.alternate(
        `P2 ${count}`,
        async kind => {
          const dir = await ctx.scratch.dir(`p2-client-${count}-${kind}`)
          const result = await syncNewClient(ctx, { kind, label: `p2-client-${count}`, source: sources[kind], dir, timeoutMs })
          if (!result.timedOut && result.count !== count)
            throw new Error(`P2 ${kind}: the client has ${result.count} documents, expected ${count}`)
          if (!result.timedOut) ctx.note(`synced-${kind}-${count}`, dir)
          return result
        },
        { kinds: VERSUS },
      )
      raw[count] = results
      const n = count.toLocaleString("en-US")
      const timedOut = { cairn: results.cairn.some(x => x.timedOut), plain: results.pouch.some(x => x.timedOut) }
      const series = (what, unit, key) =>
        row({
          id: "P2",
          what,
          unit,
          cairn: results.cairn.map(x => x[key]),
          plain: results.pouch.map(x => x[key]),
          timedOut,
          ...versusPouch,
        })
      rows.push(
        series(`initial sync of ${n} documents: time from the client's process start`, "ms", "fromStartMs"),
        series(`initial sync of ${n} documents: time from connect`, "ms", "ms"),
        series(`initial sync of ${n} documents: bytes on the wire`, "bytes", "bytes"),
        series(`client holding ${n} synced documents: RSS after GC`, "bytes", "rss"),
        series(`client's data directory, ${n} documents (allocated, as du counts)`, "bytes", "disk"),
      )
    }
    return { rows, raw }
  },
}
