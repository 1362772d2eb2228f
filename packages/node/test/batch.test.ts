/**
 * A peer's storage batches across its two logs (openStorage.ts) and what the
 * database leaves in them: a batch whose catalog part a crash kept from the
 * catalog's log is finished on open, and the journal entries of changes made
 * on documents in memory are gone once the repo has saved those changes.
 */
import { mkdtemp, readFile, rm, truncate } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { defineType, f } from "@cairn/core"
import { NodePeer } from "../src/index.js"
import { LogStorageAdapter } from "../src/storage/LogStorageAdapter.js"
import { openStorage } from "../src/storage/openStorage.js"

const Task = defineType("task", { fields: { title: f.string(), votes: f.counter() } })

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-batch-"))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array | undefined) => (data === undefined ? undefined : new TextDecoder().decode(data))

describe("a batch across the documents' and the catalog's logs", () => {
  it("finishes on open a batch whose catalog part never reached the catalog's log, once", async () => {
    const dir = await tempDir()
    const storage = await openStorage(dir)
    await storage.saveBatch([
      { key: ["doc1", "incremental", "0"], data: bytes("document part") },
      { key: ["cairn-catalog", "log", "000000000007"], data: bytes("catalog part") },
    ])
    await storage.close()
    // As if the process had died right after the documents' log had the batch: cut what came after it in both logs.
    const documentsLog = join(dir, "storage.log")
    const catalogLog = join(dir, "catalog", "storage.log")
    const documents = await readFile(documentsLog)
    const intent = documents.indexOf("cairn-batch")
    const tombstone = documents.indexOf("cairn-batch", intent + 1)
    expect(tombstone).toBeGreaterThan(intent)
    await truncate(documentsLog, tombstone - 20)
    await truncate(catalogLog, (await readFile(catalogLog)).indexOf("cairn-catalog") - 40)
    const cut = await LogStorageAdapter.open(join(dir, "catalog"))
    expect(await cut.load(["cairn-catalog", "log", "000000000007"])).toBeUndefined()
    await cut.close()

    for (let open = 0; open < 2; open++) {
      const reopened = await openStorage(dir)
      expect(text(await reopened.load(["doc1", "incremental", "0"]))).toBe("document part")
      expect(text(await reopened.load(["cairn-catalog", "log", "000000000007"]))).toBe("catalog part")
      // Finished: neither the intent nor its done record is left behind.
      expect(await reopened.loadRange(["cairn-batch"])).toEqual([])
      expect((await reopened.loadRange(["cairn-catalog"])).map(chunk => chunk.key)).toEqual([["cairn-catalog", "log", "000000000007"]])
      await reopened.close()
    }
  })

  it("routes a batch that is all documents or all catalog to one log, with no intent", async () => {
    const dir = await tempDir()
    const storage = await openStorage(dir)
    cleanup.push(() => storage.close())
    await storage.saveBatch([{ key: ["doc1", "snapshot", "s"], data: bytes("d") }])
    await storage.saveBatch([{ key: ["cairn-sync", "peer"], data: bytes("c") }])
    expect(await storage.loadRange(["cairn-batch"])).toEqual([])
    expect(text(await storage.load(["cairn-sync", "peer"]))).toBe("c")
  })
})

describe("journal entries of changes made on documents in memory", () => {
  it("are removed once the repo has saved the changes, so edits do not pile up chunks", async () => {
    const dir = await tempDir()
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
    cleanup.push(() => reopened.close())
    expect((await reopened.db.get(Task, id)).data.votes).toBe(200)
  })
})
