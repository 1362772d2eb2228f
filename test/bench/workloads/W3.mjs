// W3: reconnect after being offline. Both peers hold the same N documents
// (the sink got them by a full sync, then closed); the source changes 10 of
// them; the sink process starts again on its directory and reconnects.
// Timed from connect until the sink has the 10 changes on disk.
//
// The source stays up across repetitions (a server; the one W2 used); each repetition the
// sink starts from a copy of its directory as it was after the full sync, and
// the source changes the same 10 documents once more, so exactly 10
// documents differ every time. The reference for bytes is the size of the
// Automerge sync messages that bring those 10 documents from the sink's
// state to the source's (fresh sync states, both directions).
//
// Plain: the source has every document loaded and announces everything, so
// on reconnect it offers all N documents and the sink loads each one to
// answer; bytes are counted until that traffic stops.
import { measureSync, sharedSource, spreadIds } from "../lib/sync.mjs"
import { atMost, formatValue, ratioText, row } from "../lib/report.mjs"
import { KINDS } from "../lib/context.mjs"
import { median } from "../lib/stats.mjs"

const CHANGED = 10

export default {
  id: "W3",
  async run(ctx) {
    const count = ctx.documents(10000)
    const timeoutMs = ctx.syncTimeoutMs
    const sources = {}
    const synced = {}
    const changedIds = {}
    for (const kind of KINDS) {
      const source = (sources[kind] = await sharedSource(ctx, kind, count))
      // The sink's directory after a full sync: W2's, if it ran in this run.
      synced[kind] = ctx.recall(`synced-${kind}-${count}`)
      if (!synced[kind]) {
        synced[kind] = await ctx.scratch.dir(`w3-sink-synced-${kind}`)
        const setup = await ctx.withPeer(kind, "w3-sink-setup", async sink => {
          await sink.call("open", { dir: synced[kind] })
          return sink.call("syncFrom", {
            url: `ws://127.0.0.1:${source.port}`,
            expect: kind === "plain" ? source.entries : undefined,
            timeoutMs,
          })
        })
        if (setup.timedOut || setup.count !== count)
          throw new Error(`W3 setup (${kind}): the sink got ${setup.count} of ${count} documents`)
        ctx.log(`w3 setup (${kind}): full sync of ${count} documents took ${(setup.ms / 1000).toFixed(1)} s`)
      }
      changedIds[kind] = spreadIds(source.entries, CHANGED)
    }
    const results = await ctx.alternate(
      "W3",
      async (kind, rep) => {
        const source = sources[kind]
        const dir = await ctx.scratch.copy(synced[kind], `w3-sink-${kind}-${rep}`)
        const change = await source.peer.call("changeSome", { ids: changedIds[kind] })
        return ctx.withPeer(kind, "w3-sink", async sink => {
          const opened = await sink.call("open", { dir })
          const result = await measureSync({
            kind,
            port: source.port,
            sink,
            sources: [source.peer],
            expect: change.heads,
            timeoutMs,
            quietCapMs: ctx.quick ? 30_000 : 10 * 60_000,
          })
          const heads = await sink.call("heads", { ids: changedIds[kind] })
          const want = new Map(change.heads.map(h => [h.id, [...h.heads].sort().join()]))
          const arrived = heads.filter(h => want.get(h.id) === [...h.heads].sort().join()).length
          if (!result.timedOut && arrived !== CHANGED) throw new Error(`W3 ${kind}: ${arrived} of ${CHANGED} changed documents arrived`)
          return { ...result, openMs: opened.ms, referenceBytes: change.referenceBytes }
        })
      },
      { slowPlain: true },
    )
    const timedOut = { cairn: results.cairn.some(x => x.timedOut), plain: results.plain.some(x => x.timedOut) }
    const n = count.toLocaleString("en-US")
    const time = row({
      id: "W3",
      what: `reconnect, ${n} documents on both sides, ${CHANGED} changed: time`,
      unit: "ms",
      cairn: results.cairn.map(x => x.ms),
      plain: results.plain.map(x => x.ms),
      target: "< 0.5 s",
      timedOut,
    })
    Object.assign(
      time,
      atMost(time.cairn?.median ?? null, 500, v => formatValue(v, "ms"), { strict: true }),
    )
    const reference = median(results.cairn.map(x => x.referenceBytes))
    const bytes = row({
      id: "W3",
      what: `reconnect: bytes on the wire (the ${CHANGED} documents' sync messages: ${formatValue(reference, "bytes")})`,
      unit: "bytes",
      cairn: results.cairn.map(x => x.bytes),
      plain: results.plain.map(x => x.bytes),
      target: "≤ 2x the sync messages",
      timedOut,
    })
    Object.assign(
      bytes,
      atMost(bytes.cairn ? bytes.cairn.median / reference : null, 2, v => `${ratioText(v)} the sync messages`),
    )
    const settle = row({
      id: "W3",
      what: "reconnect: until the connection goes quiet",
      unit: "ms",
      cairn: results.cairn.map(x => x.settleMs),
      plain: results.plain.map(x => x.settleMs),
      timedOut,
    })
    const reopen = row({
      id: "W3",
      what: "reconnect: opening the directory first (not in the time above)",
      unit: "ms",
      cairn: results.cairn.map(x => x.openMs),
      plain: results.plain.map(x => x.openMs),
    })
    return { rows: [time, bytes, settle, reopen], raw: results }
  },
}
