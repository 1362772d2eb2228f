// W5: load all of N documents into memory, in a fresh process that has
// opened the directory (not timed). Cairn: db.list (load and materialize).
// Plain: repo.find of every id (batches of 500), then doc().
// The floor: raw Automerge.load over the very bytes each peer's storage
// holds for its documents (read through the storage adapter first, not
// timed), in its own fresh process.
import { atMost, ratioText, row } from "../lib/report.mjs"

export default {
  id: "W5",
  async run(ctx) {
    const count = ctx.documents(1000)
    const fixtures = { cairn: await ctx.populated("cairn", count), plain: await ctx.populated("plain", count) }
    const inFreshPeer = command => async (kind, rep) => {
      const dir = await ctx.scratch.copy(fixtures[kind], `w5-${command}-${kind}-${rep}`)
      return ctx.withPeer(kind, `w5-${command}`, async peer => {
        await peer.call("open", { dir })
        const result = await peer.call(command)
        if (result.count !== count) throw new Error(`W5 ${kind} ${command}: ${result.count} documents, expected ${count}`)
        return result
      })
    }
    const load = await ctx.alternate("W5 load", inFreshPeer("loadAll"))
    const floor = await ctx.alternate("W5 floor", inFreshPeer("floor"))
    const n = count.toLocaleString("en-US")
    const loadRow = row({
      id: "W5",
      what: `load all ${n} documents into memory`,
      unit: "ms",
      cairn: load.cairn.map(x => x.ms),
      plain: load.plain.map(x => x.ms),
      target: "≤ 1.5x raw Automerge.load",
    })
    const floorRow = row({
      id: "W5",
      what: `raw Automerge.load of the same ${n} documents' stored bytes (the floor)`,
      unit: "ms",
      cairn: floor.cairn.map(x => x.ms),
      plain: floor.plain.map(x => x.ms),
    })
    Object.assign(
      loadRow,
      atMost(loadRow.cairn && floorRow.cairn ? loadRow.cairn.median / floorRow.cairn.median : null, 1.5, v => `${ratioText(v)} the floor`),
    )
    return { rows: [loadRow, floorRow], raw: { load, floor } }
  },
}
