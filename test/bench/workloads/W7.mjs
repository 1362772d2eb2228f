// W7: two peers (two processes, one connected to the other's server through
// the wire tap) typing into the same text field at once, 5,000 keystrokes in
// all: each peer appends one character every INTERVAL_MS, the second peer
// offset by half an interval. A keystroke's latency is from just before the
// change call on the typing peer to the moment the other peer's app sees it
// (Cairn: a db.subscribe callback; plain: the handle's change event), on the
// machine's monotonic clock, which both processes share.
// Both run over automerge-repo's live per-document sync (Cairn uses it for
// documents an app subscribes to): a local change starts a sync at most every
// 100 ms per document, and answers to the other peer's messages go at once.
import { clock, sleep } from "../lib/measure.mjs"
import { percentile } from "../lib/stats.mjs"
import { row } from "../lib/report.mjs"
import { startTap, tapBytes } from "../lib/tap.mjs"

const INTERVAL_MS = 5

export default {
  id: "W7",
  async run(ctx) {
    const keystrokes = ctx.quick ? 100 : 5000
    const each = keystrokes / 2
    const results = await ctx.alternate("W7", async kind => {
      const a = await ctx.spawn(kind, "w7-a")
      const b = await ctx.spawn(kind, "w7-b")
      let tap
      try {
        await a.call("open", { dir: await ctx.scratch.dir(`w7-a-${kind}`) })
        await b.call("open", { dir: await ctx.scratch.dir(`w7-b-${kind}`) })
        const { port } = await a.call("listen")
        tap = await startTap(port)
        await b.call("connect", { url: tap.url })
        const { id } = await a.call("textCreate")
        await a.call("textOpen", { id, theirs: "b" })
        await b.call("textOpen", { id, theirs: "a" })
        await sleep(500)
        const before = tapBytes(tap).total
        const startAt = clock() + 200
        const [fromA, fromB] = await Promise.all([
          a.call("typeKeys", { count: each, intervalMs: INTERVAL_MS, startAt, char: "a" }),
          b.call("typeKeys", { count: each, intervalMs: INTERVAL_MS, startAt: startAt + INTERVAL_MS / 2, char: "b" }),
        ])
        const deadline = Date.now() + 60_000
        let atA, atB
        for (;;) {
          ;[atA, atB] = await Promise.all([a.call("textReport"), b.call("textReport")])
          if ((atA.arrivals.length >= each && atB.arrivals.length >= each) || Date.now() > deadline) break
          await sleep(50)
        }
        const latencies = [
          ...fromA.sent.map((sent, k) => (atB.arrivals[k] ?? NaN) - sent),
          ...fromB.sent.map((sent, k) => (atA.arrivals[k] ?? NaN) - sent),
        ]
        const lost = latencies.filter(l => !Number.isFinite(l)).length
        if (lost > 0) throw new Error(`W7 ${kind}: ${lost} of ${keystrokes} keystrokes never reached the other peer`)
        if (atA.length !== keystrokes || atB.length !== keystrokes)
          throw new Error(`W7 ${kind}: texts of ${atA.length} and ${atB.length} characters, expected ${keystrokes}`)
        const sorted = latencies.sort((x, y) => x - y)
        return { median: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1), bytes: tapBytes(tap).total - before }
      } finally {
        await Promise.all([a.stop(), b.stop()])
        await tap?.close()
      }
    })
    const what = `two peers typing into one text, ${keystrokes.toLocaleString("en-US")} keystrokes`
    return {
      rows: [
        row({
          id: "W7",
          what: `${what}: median keystroke → other peer`,
          unit: "ms",
          cairn: results.cairn.map(x => x.median),
          plain: results.plain.map(x => x.median),
          target: "report",
        }),
        row({
          id: "W7",
          what: `${what}: p99 keystroke → other peer`,
          unit: "ms",
          cairn: results.cairn.map(x => x.p99),
          plain: results.plain.map(x => x.p99),
          target: "report",
        }),
        row({
          id: "W7",
          what: `${what}: bytes on the wire`,
          unit: "bytes",
          cairn: results.cairn.map(x => x.bytes),
          plain: results.plain.map(x => x.bytes),
        }),
      ],
      raw: results,
    }
  },
}
