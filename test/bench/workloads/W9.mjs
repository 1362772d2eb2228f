// W9: type-filtered sync. A relay holds N documents of 10 types; an empty
// peer that wants one type connects and syncs its N/10 documents. Compared
// with syncing the same N/10 documents from a peer that holds only them.
//
// Cairn: the relay (relay mode) serves from its catalog; the sink declares
// `wants: [type]`. Plain automerge-repo has no subscriptions and its share
// policy sees only ids, so the plain relay is configured with the wanted
// type and answers announce/access from the document's content, which means
// it must load every one of the N documents first (its load time is logged,
// not counted in the sync time).
//
// "Alone": the source is the first filtered repetition's sink directory,
// which holds exactly those N/10 documents (the same bytes).
import { measureSync, startSource } from "../lib/sync.mjs"
import { atMost, ratioText, row } from "../lib/report.mjs"
import { KINDS } from "../lib/context.mjs"
import { Kinds } from "../types.mjs"

export default {
  id: "W9",
  async run(ctx) {
    const count = ctx.documents(10000)
    const typeNames = Kinds.map(k => k.name)
    const wanted = typeNames[3]
    const timeoutMs = ctx.syncTimeoutMs
    const sinkDirs = { cairn: [], plain: [] }
    const measureFrom = (sources, label) => async (kind, rep) => {
      const source = sources[kind]
      const dir = await ctx.scratch.dir(`w9-${label}-sink-${kind}-${rep}`)
      sinkDirs[kind].push(dir)
      const expect = source.entries.filter(e => e.type === wanted)
      return ctx.withPeer(kind, `w9-${label}-sink`, async sink => {
        await sink.call("open", { dir, ...(kind === "cairn" ? { wants: [wanted] } : {}) })
        const result = await measureSync({ kind, port: source.port, sink, sources: [source.peer], expect, timeoutMs })
        if (!result.timedOut && result.count !== count / 10)
          throw new Error(`W9 ${label} ${kind}: the sink has ${result.count} documents, expected ${count / 10}`)
        return result
      })
    }
    const run = async (label, makeSource) => {
      const sources = {}
      try {
        for (const kind of KINDS) sources[kind] = await makeSource(kind)
        return await ctx.alternate(`W9 ${label}`, measureFrom(sources, label))
      } finally {
        for (const kind of KINDS) await sources[kind]?.peer.stop()
      }
    }
    const filtered = await run("filtered", async kind =>
      startSource(ctx, kind, await ctx.populated(kind, count, typeNames), {
        label: "w9-relay",
        openOptions: kind === "cairn" ? { relay: true } : { announceType: wanted },
      }),
    )
    const firstSinks = { cairn: sinkDirs.cairn[0], plain: sinkDirs.plain[0] }
    const alone = await run("alone", kind => startSource(ctx, kind, firstSinks[kind], { label: "w9-alone-source" }))
    const n = count.toLocaleString("en-US")
    const k = (count / 10).toLocaleString("en-US")
    const timeRow = row({
      id: "W9",
      what: `sync 1 of 10 types (${k} documents) from a relay of ${n}: time`,
      unit: "ms",
      cairn: filtered.cairn.map(x => x.ms),
      plain: filtered.plain.map(x => x.ms),
      target: "≤ 1.2x syncing them alone",
    })
    const bytesRow = row({
      id: "W9",
      what: `sync 1 of 10 types from a relay of ${n}: bytes`,
      unit: "bytes",
      cairn: filtered.cairn.map(x => x.bytes),
      plain: filtered.plain.map(x => x.bytes),
      target: "≤ 1.2x syncing them alone",
    })
    const aloneTime = row({
      id: "W9",
      what: `the same ${k} documents from a peer holding only them: time`,
      unit: "ms",
      cairn: alone.cairn.map(x => x.ms),
      plain: alone.plain.map(x => x.ms),
    })
    const aloneBytes = row({
      id: "W9",
      what: `the same ${k} documents alone: bytes`,
      unit: "bytes",
      cairn: alone.cairn.map(x => x.bytes),
      plain: alone.plain.map(x => x.bytes),
    })
    Object.assign(
      timeRow,
      atMost(timeRow.cairn && aloneTime.cairn ? timeRow.cairn.median / aloneTime.cairn.median : null, 1.2, v => `${ratioText(v)} alone`),
    )
    Object.assign(
      bytesRow,
      atMost(
        bytesRow.cairn && aloneBytes.cairn ? bytesRow.cairn.median / aloneBytes.cairn.median : null,
        1.2,
        v => `${ratioText(v)} alone`,
      ),
    )
    return { rows: [timeRow, bytesRow, aloneTime, aloneBytes], raw: { filtered, alone } }
  },
}
