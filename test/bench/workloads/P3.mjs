// P3: W3's reconnect, Cairn against PouchDB. Both sides hold the same N
// documents (the client got them by a full sync, then its process ended);
// the server changes 10; a new client process opens the client's directory
// and syncs. Each repetition reconnects the same client (its directory goes
// on from the last one), as an app's copy does, and each time the server
// has changed the same 10 documents again. PouchDB two ways, each its own
// client: `db.sync` (both ways, P2's client) and pull only (`replicate.from`,
// a client that pulled its first copy). PouchDB keys its checkpoints by the
// two databases' ids, so a copied directory cannot stand for a client: its
// copies would overwrite each other's checkpoint on the server.
// Timed from the client's process start (opening the directory included)
// and from connect.
import { sharedSource, spreadIds } from "../lib/sync.mjs"
import { row } from "../lib/report.mjs"
import { syncNewClient, VERSUS, versusPouch } from "../lib/versus.mjs"

const CHANGED = 10
/** The sides measured: Cairn, and PouchDB both ways and pull only. */
const SIDES = { cairn: ["cairn", {}], "pouch-sync": ["pouch", {}], "pouch-pull": ["pouch", { pull: true }] }

export default {
  id: "P3",
  async run(ctx) {
    const count = ctx.documents(10000)
    const timeoutMs = ctx.syncTimeoutMs
    const sources = {}
    const clients = {}
    for (const kind of VERSUS) sources[kind] = await sharedSource(ctx, kind, count)
    for (const [side, [kind, syncArgs]] of Object.entries(SIDES)) {
      // A copy of P2's (or W2's) last client, if it ran in this run and synced as this side does; that one never syncs again.
      const synced = side === "pouch-pull" ? undefined : ctx.recall(`synced-${kind}-${count}`)
      if (synced) {
        clients[side] = await ctx.scratch.copy(synced, `p3-client-${side}`)
        continue
      }
      clients[side] = await ctx.scratch.dir(`p3-client-${side}`)
      const setup = await syncNewClient(ctx, {
        kind,
        label: "p3-client-setup",
        source: sources[kind],
        dir: clients[side],
        syncArgs,
        timeoutMs,
      })
      if (setup.timedOut || setup.count !== count)
        throw new Error(`P3 setup (${side}): the client got ${setup.count} of ${count} documents`)
    }
    const changedIds = Object.fromEntries(VERSUS.map(kind => [kind, spreadIds(sources[kind].entries, CHANGED)]))
    const results = await ctx.alternate(
      "P3",
      async side => {
        const [kind, syncArgs] = SIDES[side]
        const source = sources[kind]
        const dir = clients[side]
        const change = await source.peer.call("changeSome", { ids: changedIds[kind] })
        const want = new Map(change.heads.map(h => [h.id, [...h.heads].sort().join()]))
        const after = async client =>
          (await client.call("heads", { ids: changedIds[kind] })).filter(h => want.get(h.id) === [...h.heads].sort().join()).length
        const result = await syncNewClient(ctx, {
          kind,
          label: "p3-client",
          source,
          dir,
          syncArgs,
          timeoutMs,
          quietCapMs: ctx.quick ? 30_000 : 10 * 60_000,
          after,
        })
        const arrived = result.after
        if (!result.timedOut && arrived !== CHANGED) throw new Error(`P3 ${side}: ${arrived} of ${CHANGED} changed documents arrived`)
        return result
      },
      { kinds: Object.keys(SIDES) },
    )
    const n = count.toLocaleString("en-US")
    const rows = []
    for (const [side, how] of [
      ["pouch-sync", "db.sync"],
      ["pouch-pull", "pull only"],
    ]) {
      const timedOut = { cairn: results.cairn.some(x => x.timedOut), plain: results[side].some(x => x.timedOut) }
      const series = (what, unit, key) =>
        row({
          id: "P3",
          what,
          unit,
          cairn: results.cairn.map(x => x[key]),
          plain: results[side].map(x => x[key]),
          timedOut,
          ...versusPouch,
        })
      rows.push(
        series(
          `reconnect, ${n} on both sides, ${CHANGED} changed, PouchDB ${how}: time from the client's process start`,
          "ms",
          "fromStartMs",
        ),
        series(`the same, PouchDB ${how}: time from connect`, "ms", "ms"),
        series(`the same, PouchDB ${how}: bytes on the wire`, "bytes", "bytes"),
      )
    }
    rows.push(
      row({
        id: "P3",
        what: "reconnect: opening the directory (in the time from process start)",
        unit: "ms",
        cairn: results.cairn.map(x => x.openMs),
        plain: results["pouch-pull"].map(x => x.openMs),
        ...versusPouch,
      }),
    )
    return { rows, raw: results }
  },
}
