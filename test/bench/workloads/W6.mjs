// W6: 10,000 small changes (flip a boolean) spread over 100 documents,
// issued together and all on disk at the end. Cairn: db.change with a typed
// draft, every promise resolved. Plain: handle.change, then repo.flush().
import { atMost, ratioText, row } from "../lib/report.mjs"

export default {
  id: "W6",
  async run(ctx) {
    const count = ctx.quick ? 1000 : 10000
    const docs = ctx.quick ? 10 : 100
    const results = await ctx.alternate("W6", async kind => {
      const dir = await ctx.scratch.dir(`w6-${kind}`)
      return ctx.withPeer(kind, "w6", async peer => {
        await peer.call("open", { dir })
        return peer.call("changes", { docs, count })
      })
    })
    const r = row({
      id: "W6",
      what: `${count.toLocaleString("en-US")} small changes over ${docs} documents (typed API vs handle.change)`,
      unit: "ms",
      cairn: results.cairn.map(x => x.ms),
      plain: results.plain.map(x => x.ms),
      target: "≤ 1.2x plain",
    })
    Object.assign(
      r,
      atMost(r.ratio, 1.2, v => `${ratioText(v)} plain`),
    )
    return { rows: [r], raw: results }
  },
}
