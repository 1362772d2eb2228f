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
      const whole = (peer: NodePeer) => peer.db.replica.bytesFor(id, []).then(bytes => ({ id, bytes: bytes! }))
      await right.db.replica.ingest([await whole(left)])
      await one.db.replica.ingest([await whole(left)])
      await until(() => two.db.catalog.get(id) !== undefined)
      // Numbered by the store: the same number in both processes, and both promise it once applied.
      expect(two.db.catalog.get(id)!.seq).toBe(one.db.catalog.get(id)!.seq)
      await one.db.replica.flush()
      await two.db.replica.flush()
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
})
