/**
 * PgFollower, through two relay peers over one PostgreSQL store: what one
 * commits the other applies in memory (catalog entries with the store's
 * numbers) without writing it again, and two that change a document at the
 * same moment, each without the other's change, converge on its heads.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as A from "@automerge/automerge"
import { afterAll, describe, expect, it } from "vitest"
import { packVouches } from "@cairn/core"
import { NodePeer } from "../src/NodePeer.js"
import type { PgStorage } from "../src/storage/postgres/PgStorage.js"
import { freshSchema, POSTGRES_URL } from "./helpers/postgres.js"

const made: string[] = []
afterAll(() => Promise.all(made.map(dir => rm(dir, { recursive: true, force: true }))))
const dir = async () => {
  const path = await mkdtemp(join(tmpdir(), "cairn-pgfollower-"))
  made.push(path)
  return path
}

async function until(check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

describe.skipIf(!POSTGRES_URL)("PgFollower: relay peers over one PostgreSQL store", () => {
  it("applies another's commits with the store's numbers and writes nothing back; concurrent changes of one document converge", async () => {
    const store = freshSchema()
    const relay = async () => NodePeer.open({ dir: await dir(), relay: true, store: store.url, localSocket: false })
    const [one, two] = [await relay(), await relay()]
    const [left, right] = [
      await NodePeer.open({ dir: await dir(), localSocket: false }),
      await NodePeer.open({ dir: await dir(), localSocket: false }),
    ]
    try {
      const { id } = await left.db.create("task", { title: "shared" })
      const whole = async (peer: NodePeer) => ({
        id,
        bytes: (await peer.db.replica.bytesFor(id, []))!,
        vouches: packVouches(await peer.db.replica.vouchesFor(id)),
      })
      await right.db.replica.ingest([await whole(left)])
      await one.db.replica.ingest([await whole(left)])
      await until(() => two.db.catalog.get(id) !== undefined)
      // The writer's own entry takes its number once its follower reads the commit back, which flush waits for
      // (the other process may have read it first).
      await one.db.replica.flush()
      await two.db.replica.flush()
      // Numbered by the store: the same number in both processes, and both promise it once applied.
      expect(one.db.catalog.get(id)!.seq).toBeGreaterThan(0)
      expect(two.db.catalog.get(id)!.seq).toBe(one.db.catalog.get(id)!.seq)
      expect(two.db.catalog.durableSeq).toBeGreaterThanOrEqual(one.db.catalog.get(id)!.seq!)
      // Taking it in wrote nothing: the store's sequence stays at the one commit that brought it.
      const storage = (peer: NodePeer) => (peer as unknown as { storage: PgStorage }).storage
      const seq = (await storage(one).sequence()).seq
      await new Promise(resolve => setTimeout(resolve, 300))
      expect((await storage(two).sequence()).seq).toBe(seq)

      const gate = await storage(one).store.dedicatedClient()
      const sequence = storage(one).store.table("sequence")
      for (let round = 0; round < 5; round++) {
        await left.db.change("task", id, draft => void (draft[`left${round}`] = round))
        await right.db.change("task", id, draft => void (draft[`right${round}`] = round))
        // Each relay process takes one side's change at the same moment: neither has seen the other's when it writes.
        // Made certain by holding the store's sequence row: both batches wait for it, each having read the document.
        await gate.query(`BEGIN; SELECT seq FROM ${sequence} FOR UPDATE`)
        const [toOne, toTwo] = [await whole(left), await whole(right)]
        const both = Promise.all([one.db.replica.ingest([toOne]), two.db.replica.ingest([toTwo])])
        // Asked outside the gate's transaction, which sees pg_stat_activity as it was when the transaction began.
        await until(async () => {
          const { rows } = await storage(two).store.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE%sequence%'",
          )
          return rows[0]!.n === 2
        })
        await gate.query("COMMIT")
        await both
      }
      await until(async () => {
        const now = A.getHeads((await one.db.replica.store.loadStored(id))!)
          .sort()
          .join()
        return [one, two].every(peer => peer.db.catalog.get(id)!.heads.join() === now)
      }, 20_000)
      await gate.end()
    } finally {
      await Promise.all([left.close(), right.close(), one.close(), two.close()])
      await store.drop()
    }
  }, 30_000)

  it("a document open in a process takes another's commit and its live client gets it, with nothing written again", async () => {
    const store = freshSchema()
    const relay = async () => NodePeer.open({ dir: await dir(), relay: true, store: store.url, localSocket: false })
    const [one, two] = [await relay(), await relay()]
    const watcher = await NodePeer.open({ dir: await dir(), localSocket: false })
    const writer = await NodePeer.open({ dir: await dir(), localSocket: false })
    try {
      const { id } = await writer.db.create("task", { title: "v0" })
      await one.db.replica.ingest([
        { id, bytes: (await writer.db.replica.bytesFor(id, []))!, vouches: packVouches(await writer.db.replica.vouchesFor(id)) },
      ])
      watcher.connect((await two.listen({ port: 0 })).url)
      await until(() => watcher.db.catalog.get(id) !== undefined)
      const titles: unknown[] = []
      const stop = watcher.db.subscribe(id, doc => doc && titles.push(doc.data.title))
      // A change on the watcher opens the document in its repo; watched, it syncs live, which opens it in process two.
      await watcher.db.change("task", id, draft => void (draft.seenBy = "watcher"))
      await until(() => two.repo.handles[id as never]?.isReady() === true)
      const written = async () =>
        Number(
          (
            await (two as unknown as { storage: PgStorage }).storage.store.query(
              `SELECT count(*) AS n FROM ${(two as unknown as { storage: PgStorage }).storage.store.table("chunks")} WHERE writer = $1 AND head = $2`,
              [(two as unknown as { storage: PgStorage }).storage.writer, id],
            )
          ).rows[0]!.n,
        )
      // The watcher's own change is written by process two (its repo's save too); counted from when that is done.
      const watcherHeads = () =>
        A.getHeads(watcher.repo.handles[id as never]!.doc() as A.Doc<unknown>)
          .sort()
          .join()
      await until(() => one.db.catalog.get(id)?.heads.join() === watcherHeads())
      await new Promise(resolve => setTimeout(resolve, 1500))
      const before = await written()
      for (let i = 1; i <= 3; i++) {
        await writer.db.change("task", id, draft => void (draft.title = `v${i}`))
        await one.db.replica.ingest([
          { id, bytes: (await writer.db.replica.bytesFor(id, []))!, vouches: packVouches(await writer.db.replica.vouchesFor(id)) },
        ])
        await until(() => titles.includes(`v${i}`))
      }
      expect(A.getHeads(two.repo.handles[id as never]!.doc() as A.Doc<unknown>).sort()).toEqual(one.db.catalog.get(id)!.heads)
      await new Promise(resolve => setTimeout(resolve, 1500))
      expect(await written(), "process two wrote the document's chunks again").toBe(before)
      stop()
    } finally {
      await Promise.all([watcher.close(), writer.close(), one.close(), two.close()])
      await store.drop()
    }
  }, 30_000)
})
