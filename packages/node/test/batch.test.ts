/**
 * A peer's storage batches across its two logs (openStorage.ts) and what the
 * database leaves in them: a batch a crash cut between its catalog part and
 * its documents' part is rolled back on open, and the journal entries of changes made
 * on documents in memory are gone once the repo has saved those changes.
 */
import { readFile, truncate } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { afterThisTest, tempDir } from "./helpers/afterEachTest.js"
import { defineType, f } from "@cairn/core"
import { NodePeer } from "../src/index.js"
import { LogStorageAdapter } from "../src/storage/LogStorageAdapter.js"
import { openStorage } from "../src/storage/openStorage.js"

const Task = defineType("task", { fields: { title: f.string(), votes: f.counter() } })

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array | undefined) => (data === undefined ? undefined : new TextDecoder().decode(data))

describe("a batch across the documents' and the catalog's logs", () => {
  /** A batch of one document chunk and one catalog record, saved through openStorage and closed; the two logs' bytes. */
  async function savedBatch(dir: string) {
    const storage = await openStorage(dir)
    await storage.saveBatch([
      { key: ["doc1", "incremental", "0"], data: bytes("document part") },
      { key: ["cairn-catalog", "log", "000000000007"], data: bytes("catalog part") },
    ])
    await storage.close()
    const documentsLog = join(dir, "storage.log")
    const catalogLog = join(dir, "catalog", "storage.log")
    // In each log: the batch, then the tombstone of its pending (catalog) or done (documents) record.
    const secondRecordOf = async (path: string, needle: string) => {
      const file = await readFile(path)
      const first = file.indexOf(needle)
      const second = file.indexOf(needle, first + 1)
      expect(second).toBeGreaterThan(first)
      return { path, batchStart: first - 40, tombstoneStart: second - 20 }
    }
    return {
      documents: await secondRecordOf(documentsLog, '"cairn-batch"'),
      catalog: await secondRecordOf(catalogLog, '"batch"'),
    }
  }

  async function expectFinished(dir: string, present: boolean) {
    for (let open = 0; open < 2; open++) {
      const reopened = await openStorage(dir)
      expect(text(await reopened.load(["doc1", "incremental", "0"]))).toBe(present ? "document part" : undefined)
      expect(text(await reopened.load(["cairn-catalog", "log", "000000000007"]))).toBe(present ? "catalog part" : undefined)
      // Neither the pending nor the done record is left behind.
      expect(await reopened.loadRange(["cairn-batch"])).toEqual([])
      expect((await reopened.loadRange(["cairn-catalog"])).map(chunk => chunk.key)).toEqual(
        present ? [["cairn-catalog", "log", "000000000007"]] : [],
      )
      await reopened.close()
    }
  }

  it("rolls back on open the catalog part of a batch whose documents' part never landed", async () => {
    const dir = await tempDir("cairn-batch-")
    const { documents, catalog } = await savedBatch(dir)
    // As if the process had died right after the catalog's log had its part: nothing in the documents' log.
    await truncate(documents.path, 16)
    await truncate(catalog.path, catalog.tombstoneStart)
    const cut = await LogStorageAdapter.open(join(dir, "catalog"))
    expect(text(await cut.load(["cairn-catalog", "log", "000000000007"]))).toBe("catalog part")
    await cut.close()
    await expectFinished(dir, false)
  })

  it("rolls back a batch whose documents' part was torn", async () => {
    const dir = await tempDir("cairn-batch-")
    const { documents, catalog } = await savedBatch(dir)
    await truncate(documents.path, documents.tombstoneStart - 3)
    await truncate(catalog.path, catalog.tombstoneStart)
    await expectFinished(dir, false)
  })

  it("keeps a batch both of whose parts landed, and forgets its records, when the process died before", async () => {
    const dir = await tempDir("cairn-batch-")
    const { documents, catalog } = await savedBatch(dir)
    await truncate(documents.path, documents.tombstoneStart)
    await truncate(catalog.path, catalog.tombstoneStart)
    await expectFinished(dir, true)
  })

  it("keeps a batch whose pending record was removed but not its done record", async () => {
    const dir = await tempDir("cairn-batch-")
    const { documents } = await savedBatch(dir)
    await truncate(documents.path, documents.tombstoneStart)
    await expectFinished(dir, true)
  })

  it("refuses a batch that would overwrite a key of the catalog's log, saving nothing", async () => {
    const dir = await tempDir("cairn-batch-")
    const storage = await openStorage(dir)
    afterThisTest(() => storage.close())
    await storage.save(["cairn-sync", "peer"], bytes("checkpoint"))
    await expect(
      storage.saveBatch([
        { key: ["doc1", "incremental", "0"], data: bytes("d") },
        { key: ["cairn-sync", "peer"], data: bytes("newer") },
      ]),
    ).rejects.toThrow(/only add new keys to the catalog's log; \["cairn-sync","peer"\] exists/)
    expect(await storage.load(["doc1", "incremental", "0"])).toBeUndefined()
    expect(text(await storage.load(["cairn-sync", "peer"]))).toBe("checkpoint")
  })

  it("routes a batch that is all documents or all catalog to one log, with no intent", async () => {
    const dir = await tempDir("cairn-batch-")
    const storage = await openStorage(dir)
    afterThisTest(() => storage.close())
    await storage.saveBatch([{ key: ["doc1", "snapshot", "s"], data: bytes("d") }])
    await storage.saveBatch([{ key: ["cairn-sync", "peer"], data: bytes("c") }])
    expect(await storage.loadRange(["cairn-batch"])).toEqual([])
    expect(text(await storage.load(["cairn-sync", "peer"]))).toBe("c")
  })
})

describe("journal entries of changes made on documents in memory", () => {
  // 200 changes one after another, each on disk before the next: 4 to 5 s on a busy 2-core machine, past the default 5 s.
  it("are removed once the repo has saved the changes, so edits do not pile up chunks", { timeout: 20_000 }, async () => {
    const dir = await tempDir("cairn-batch-")
    const peer = await NodePeer.open({ dir, types: [Task] })
    const { id } = await peer.db.create(Task, { title: "edited often" })
    for (let i = 0; i < 200; i++) await peer.db.change(Task, id, draft => draft.votes.increment(1))
    await peer.close()
    const log = await LogStorageAdapter.open(join(dir, "store"))
    const keys = (await log.loadRange([id])).map(chunk => chunk.key[2]!)
    await log.close()
    // The creation's own chunk ("0") and the repo's chunks; none of the 200 journal entries ("cairn-…").
    expect(keys.filter(name => name.startsWith("cairn-"))).toEqual([])
    expect(keys.length).toBeLessThan(10)
    const reopened = await NodePeer.open({ dir, types: [Task] })
    afterThisTest(() => reopened.close())
    expect((await reopened.db.get(Task, id)).data.votes).toBe(200)
  })
})
