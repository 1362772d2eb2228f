// P9: W9's filtered sync, Cairn against PouchDB. A server holds N documents
// of 10 types; a new client on an empty directory syncs the N/10 of one.
// Cairn: a relay, the client declares `wants: [type]`. PouchDB, both ways
// its users filter a pull replication: a design document's filter function
// (`filter: "app/byType"`, the type as a query parameter; the server runs it
// on every document) and a Mango selector (`selector: { type }`).
import { startSource } from "../lib/sync.mjs"
import { row } from "../lib/report.mjs"
import { syncNewClient, VERSUS, versusPouch } from "../lib/versus.mjs"
import { Kinds } from "../types.mjs"

/** The sides measured: Cairn, and PouchDB filtering each way. */
const SIDES = { cairn: "cairn", "pouch-filter": "pouch", "pouch-mango": "pouch" }

export default {
  id: "P9",
  async run(ctx) {
    const count = ctx.documents(10000)
    const typeNames = Kinds.map(k => k.name)
    const wanted = typeNames[3]
    const timeoutMs = ctx.syncTimeoutMs
    const sources = {}
    try {
      for (const kind of VERSUS)
        sources[kind] = await startSource(ctx, kind, await ctx.populated(kind, count, typeNames), {
          label: "p9-server",
          openOptions: kind === "cairn" ? { relay: true } : {},
        })
      const syncArgs = {
        cairn: {},
        "pouch-filter": { filter: "app/byType", type: wanted },
        "pouch-mango": { selector: { type: wanted } },
      }
      const results = await ctx.alternate(
        "P9",
        async side => {
          const kind = SIDES[side]
          const dir = await ctx.scratch.dir(`p9-client-${side}`)
          const openArgs = kind === "cairn" ? { wants: [wanted] } : {}
          const result = await syncNewClient(ctx, {
            kind,
            label: "p9-client",
            source: sources[kind],
            dir,
            openArgs,
            syncArgs: syncArgs[side],
            timeoutMs,
          })
          if (!result.timedOut && result.count !== count / 10)
            throw new Error(`P9 ${side}: the client has ${result.count} documents, expected ${count / 10}`)
          return result
        },
        { kinds: Object.keys(SIDES) },
      )
      const n = count.toLocaleString("en-US")
      const k = (count / 10).toLocaleString("en-US")
      const rows = []
      for (const [side, how] of [
        ["pouch-filter", "a design-doc filter"],
        ["pouch-mango", "a Mango selector"],
      ]) {
        const series = (what, unit, key) =>
          row({ id: "P9", what, unit, cairn: results.cairn.map(x => x[key]), plain: results[side].map(x => x[key]), ...versusPouch })
        rows.push(
          series(
            `sync 1 of 10 types (${k}) from a server of ${n}, PouchDB with ${how}: time from the client's process start`,
            "ms",
            "fromStartMs",
          ),
          series(`the same, PouchDB with ${how}: time from connect`, "ms", "ms"),
          series(`the same, PouchDB with ${how}: bytes on the wire`, "bytes", "bytes"),
        )
      }
      return { rows, raw: results }
    } finally {
      for (const kind of VERSUS) await sources[kind]?.peer.stop()
    }
  },
}
