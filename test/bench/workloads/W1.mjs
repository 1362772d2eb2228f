// W1: create 1,000 small typed documents and flush them to disk.
// Cairn: db.create × N issued together (group commit), every promise resolved
// (on disk). Plain: repo.create × N, repo.flush(), and the app's id index
// written (automerge-repo cannot list its documents otherwise).
import { atMost, ratioText, row } from "../lib/report.mjs"

export default {
  id: "W1",
  async run(ctx) {
    const count = ctx.documents(1000)
    const results = await ctx.alternate("W1", async kind => {
      const dir = await ctx.scratch.dir(`w1-${kind}`)
      return ctx.withPeer(kind, "w1", async peer => {
        await peer.call("open", { dir })
        return peer.call("create", { count })
      })
    })
    const r = row({
      id: "W1",
      what: `create ${count.toLocaleString("en-US")} small typed documents, flushed to disk`,
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
