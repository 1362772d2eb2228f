// What the P workloads (Cairn side by side with PouchDB) share: one sync by
// a new client process, timed from that process's start as well as from
// connect, with its memory and its data directory on disk.
import { diskUsage } from "./fixtures.mjs"
import { clock } from "./measure.mjs"
import { measureSync } from "./sync.mjs"

/** The sides of a P workload: Cairn and PouchDB (the runner's process kinds). */
export const VERSUS = ["cairn", "pouch"]

/**
 * Start a client process of `kind` on `dir`, sync it from `source` (a
 * started source: { peer, port }) and stop it. `fromStartMs` runs from just
 * before the process is spawned to the end of its sync (documents written on
 * its side); `ms` from connect, as the W workloads time it. `after(client)`
 * runs before the process stops (what it returns is kept as `after`).
 */
export async function syncNewClient(ctx, { kind, label, source, dir, openArgs = {}, syncArgs = {}, expect, timeoutMs, quietCapMs, after }) {
  const spawnedAt = clock()
  const result = await ctx.withPeer(kind, label, async client => {
    const opened = await client.call("open", { dir, ...openArgs })
    const synced = await measureSync({
      kind,
      port: source.port,
      sink: client,
      sources: [source.peer],
      expect,
      timeoutMs,
      quietCapMs,
      syncArgs: { server: source.port, ...syncArgs },
    })
    const rss = (await client.call("rss")).rss
    return { ...synced, openMs: opened.ms, fromStartMs: synced.doneAt - spawnedAt, rss, after: await after?.(client) }
  })
  const disk = await diskUsage(dir)
  return { ...result, disk: disk.allocated }
}

/** A row's options for a P workload: PouchDB in the second column. */
export const versusPouch = { versus: "PouchDB" }
