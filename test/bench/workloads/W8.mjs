// W8: memory and disk.
// RSS (after a full GC) of the peer process that holds N documents and has
// served W2 and W3 (the shared source): Cairn opened its directory (the
// catalog; documents stay on disk until asked for); plain loaded every
// document, which it must to announce them. Then Cairn with every document
// loaded, in a fresh process (db.list of the type).
// Disk: a fresh directory after creating M documents and closing, as the
// file system allocates it (du), against the documents' own saved size
// (the sum of Automerge.save of each).
import { diskUsage } from "../lib/fixtures.mjs"
import { atMost, ratioText, row } from "../lib/report.mjs"
import { sharedSource } from "../lib/sync.mjs"

export default {
  id: "W8",
  async run(ctx) {
    const count = ctx.documents(10000)
    const diskCount = ctx.documents(1000)
    const serving = {}
    for (const kind of ["cairn", "plain"]) {
      const source = await sharedSource(ctx, kind, count)
      serving[kind] = (await source.peer.call("rss")).rss
      ctx.log(`W8 RSS of the ${kind} source holding ${count} documents: ${(serving[kind] / 1024 / 1024).toFixed(0)} MB`)
    }
    const loaded = await ctx.alternate(
      "W8 all loaded",
      async (kind, rep) => {
        if (kind === "plain") return { rss: serving.plain }
        const dir = await ctx.scratch.copy(await ctx.populated(kind, count), `w8-${kind}-${rep}`)
        return ctx.withPeer(kind, "w8-memory", async peer => {
          await peer.call("open", { dir })
          const { ms } = await peer.call("loadAll")
          return { rss: (await peer.call("rss")).rss, loadMs: ms }
        })
      },
      { slowPlain: true },
    )
    const disk = await ctx.alternate("W8 disk", async kind => {
      const dir = await ctx.scratch.dir(`w8-disk-${kind}`)
      const saved = await ctx.withPeer(kind, "w8-disk", async peer => {
        await peer.call("open", { dir })
        await peer.call("create", { count: diskCount })
        return (await peer.call("savedBytes")).bytes
      })
      return { saved, ...(await diskUsage(dir)) }
    })
    const n = count.toLocaleString("en-US")
    const m = diskCount.toLocaleString("en-US")
    const diskRow = row({
      id: "W8",
      what: `disk for ${m} documents (allocated, as du counts)`,
      unit: "bytes",
      cairn: disk.cairn.map(x => x.allocated),
      plain: disk.plain.map(x => x.allocated),
      target: "≤ 3x the documents' saved bytes",
    })
    const saved = row({
      id: "W8",
      what: `the ${m} documents' saved bytes (sum of Automerge.save)`,
      unit: "bytes",
      cairn: disk.cairn.map(x => x.saved),
      plain: disk.plain.map(x => x.saved),
    })
    Object.assign(
      diskRow,
      atMost(diskRow.cairn && saved.cairn ? diskRow.cairn.median / saved.cairn.median : null, 3, v => `${ratioText(v)} saved bytes`),
    )
    return {
      rows: [
        row({
          id: "W8",
          what: `RSS of a peer holding and serving ${n} documents (Cairn: catalog; plain: every document loaded, as it must)`,
          unit: "bytes",
          cairn: [serving.cairn],
          plain: [serving.plain],
          target: "report",
        }),
        row({
          id: "W8",
          what: `RSS with all ${n} documents loaded (Cairn: db.list in a fresh process)`,
          unit: "bytes",
          cairn: loaded.cairn.map(x => x.rss),
          plain: loaded.plain.map(x => x.rss),
          target: "report",
        }),
        diskRow,
        row({
          id: "W8",
          what: `disk for ${m} documents (file sizes)`,
          unit: "bytes",
          cairn: disk.cairn.map(x => x.apparent),
          plain: disk.plain.map(x => x.apparent),
        }),
        saved,
      ],
      raw: { serving, loaded, disk },
    }
  },
}
