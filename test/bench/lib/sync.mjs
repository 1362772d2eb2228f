// One measured sync: a sink peer connects to a source peer's server through
// a wire tap and waits until it holds what it should.
import { startTap, tapBytes, whenQuiet } from "./tap.mjs"

/**
 * `syncArgs` go to the sink's `syncFrom` (PouchDB's filter or selector).
 * `expect` ([{id, heads}]) tells a plain sink what it must end up with (it
 * has no other way to know it is done); a Cairn sink waits for `whenSynced`.
 * Bytes are counted until the connection has been quiet for 300 ms, so
 * traffic that continues after the sink is done is counted too.
 */
export async function measureSync({ kind, port, sink, sources = [], expect, timeoutMs, quietCapMs = 60_000, syncArgs = {} }) {
  const tap = await startTap(port)
  try {
    const peers = [sink, ...sources]
    const cpuBefore = await Promise.all(peers.map(peer => peer.call("cpu")))
    const problemsBefore = await countProblems(peers)
    const started = performance.now()
    const result = await sink.call("syncFrom", { url: tap.url, expect: kind === "plain" ? expect : undefined, timeoutMs, ...syncArgs })
    const quiet = await whenQuiet(tap, { capMs: quietCapMs })
    const cpuAfter = await Promise.all(peers.map(peer => peer.call("cpu")))
    const bytes = tapBytes(tap)
    return {
      problems: (await countProblems(peers)) - problemsBefore,
      ms: result.ms,
      doneAt: result.doneAt,
      count: result.count,
      timedOut: !!result.timedOut,
      stalled: !!result.stalled,
      bytes: bytes.total,
      toSource: bytes.toServer,
      toSink: bytes.toClient,
      settleMs: quiet.lastChange - started,
      stillFlowing: quiet.capped,
      cpuMs: cpuAfter.reduce((n, c, i) => n + c.ms - cpuBefore[i].ms, 0),
    }
  } finally {
    await tap.close()
  }
}

/** Start a source peer on a copy of `fixture`, serving; a plain source first loads every document (it can only announce what is in memory). */
export async function startSource(ctx, kind, fixture, { label, openOptions = {} } = {}) {
  const dir = await ctx.scratch.copy(fixture, `${label}-${kind}`)
  const peer = await ctx.spawn(kind, label)
  try {
    await peer.call("open", { dir, ...openOptions })
    const loaded = kind === "plain" ? await peer.call("loadAll") : null
    const { port } = await peer.call("listen")
    const entries = await peer.call("entries")
    if (loaded) ctx.log(`${label} (plain) loaded ${loaded.count} documents in ${(loaded.ms / 1000).toFixed(1)} s`)
    return { peer, port, entries, dir, loadMs: loaded?.ms }
  } catch (error) {
    await peer.stop()
    throw error
  }
}

/** `n` ids spread evenly over the sorted ids of `entries` (the documents a reconnect workload changes). */
export function spreadIds(entries, n) {
  const ids = entries.map(e => e.id).sort()
  return Array.from({ length: n }, (_, i) => ids[Math.floor((i * ids.length) / n)])
}

async function countProblems(peers) {
  return (await Promise.all(peers.map(peer => peer.call("problems")))).reduce((n, p) => n + p.count, 0)
}

/**
 * The source peer of N task documents that W2, W3 and W8 share (loading
 * 10,000 documents into a plain automerge-repo takes minutes): up until the
 * end of the run.
 */
export function sharedSource(ctx, kind, count) {
  return ctx.shared(`source-${kind}-${count}`, async () =>
    startSource(ctx, kind, await ctx.populated(kind, count), { label: `source-${count}` }),
  )
}
