// W4: open a directory of N documents of 10 types and list the N/10 of one
// type, in a fresh process; timed from opening the directory to having the
// documents. Cairn reads its catalog and loads only that type. Plain keeps
// an index of ids (automerge-repo cannot list storage), but a document's
// type is inside the document, so it loads all N (finds in batches of 500)
// and keeps those of the type.
import { atMost, formatValue, row } from "../lib/report.mjs"
import { Kinds } from "../types.mjs"

export default {
  id: "W4",
  async run(ctx) {
    const count = ctx.documents(10000)
    const typeNames = Kinds.map(k => k.name)
    const wanted = typeNames[3]
    const fixtures = { cairn: await ctx.populated("cairn", count, typeNames), plain: await ctx.populated("plain", count, typeNames) }
    const results = await ctx.alternate(
      "W4",
      async (kind, rep) => {
        const dir = await ctx.scratch.copy(fixtures[kind], `w4-${kind}-${rep}`)
        return ctx.withPeer(kind, "w4", async peer => {
          const result = await peer.call("openList", { dir, type: wanted })
          if (result.count !== count / 10) throw new Error(`W4 ${kind}: listed ${result.count}, expected ${count / 10}`)
          return { ...result, rss: (await peer.call("rss")).rss }
        })
      },
      { slowPlain: true },
    )
    const r = row({
      id: "W4",
      what: `open a directory of ${count.toLocaleString("en-US")} documents (10 types), list the ${(count / 10).toLocaleString("en-US")} of one type`,
      unit: "ms",
      cairn: results.cairn.map(x => x.ms),
      plain: results.plain.map(x => x.ms),
      target: "< 1 s",
    })
    Object.assign(
      r,
      atMost(r.cairn?.median ?? null, 1000, v => formatValue(v, "ms"), { strict: true }),
    )
    return { rows: [r], raw: results }
  },
}
