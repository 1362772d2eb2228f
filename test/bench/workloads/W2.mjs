// W2: initial sync of N small documents from a peer to an empty peer, two
// processes over loopback WebSocket (through the wire tap).
// Cairn: the source opens its directory (documents stay on disk); the sink
// connects and waits for whenSynced (everything pulled and on disk).
// Plain: the source has every document loaded (it announces only what is in
// memory) and announces everything; the sink never calls find, and is done
// when every document has the source's heads and is flushed.
// The sources stay up across repetitions (and for W3 and W8); each
// repetition syncs a new empty sink.
import { measureSync, sharedSource } from "../lib/sync.mjs"
import { atLeast, formatValue, ratioText, row } from "../lib/report.mjs"
import { KINDS } from "../lib/context.mjs"
import { median } from "../lib/stats.mjs"

export default {
  id: "W2",
  async run(ctx) {
    const sizes = ctx.docs ? [ctx.docs] : ctx.quick ? [100] : [1000, 10000]
    const timeoutMs = ctx.syncTimeoutMs
    const rows = []
    const raw = {}
    for (const count of sizes) {
      const sources = {}
      for (const kind of KINDS) sources[kind] = await sharedSource(ctx, kind, count)
      const results = await ctx.alternate(
        `W2 ${count}`,
        async kind => {
          const source = sources[kind]
          const dir = await ctx.scratch.dir(`w2-sink-${count}-${kind}`)
          return ctx.withPeer(kind, `w2-sink-${count}`, async sink => {
            await sink.call("open", { dir })
            const result = await measureSync({ kind, port: source.port, sink, sources: [source.peer], expect: source.entries, timeoutMs })
            if (!result.timedOut && result.count !== count)
              throw new Error(`W2 ${kind}: the sink has ${result.count} documents, expected ${count}`)
            if (!result.timedOut) ctx.note(`synced-${kind}-${count}`, dir)
            return { ...result, rss: (await sink.call("rss")).rss }
          })
        },
        { slowPlain: count >= 10000 },
      )
      raw[count] = results
      const n = count.toLocaleString("en-US")
      const timedOut = { cairn: results.cairn.some(x => x.timedOut), plain: results.plain.some(x => x.timedOut) }
      const time = row({
        id: "W2",
        what: `initial sync of ${n} documents to an empty peer: time`,
        unit: "ms",
        cairn: results.cairn.map(x => x.ms),
        plain: results.plain.map(x => x.ms),
        target: "≥ 10x faster than plain",
        timedOut,
      })
      Object.assign(
        time,
        atLeast(time.ratio ? 1 / time.ratio : null, 10, v => `${ratioText(v)} faster`),
      )
      const bytes = row({
        id: "W2",
        what: `initial sync of ${n} documents: bytes on the wire`,
        unit: "bytes",
        cairn: results.cairn.map(x => x.bytes),
        plain: results.plain.map(x => x.bytes),
        timedOut,
      })
      rows.push(time, bytes)
      const cpu = kind => formatValue(median(results[kind].map(x => x.cpuMs)), "ms")
      ctx.log(`W2 ${n}: CPU of both processes, median: Cairn ${cpu("cairn")}, plain ${cpu("plain")}`)
    }
    return { rows, raw }
  },
}
