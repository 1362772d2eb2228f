/**
 * The catalog on a storage several processes share (SequencedStorage): one
 * row per entry, numbered by the store in commit order; a number promised to
 * peers (durableSeq) only once the commits up to it were read back.
 */
import type { StorageKey } from "@automerge/automerge-repo"
import { describe, expect, it } from "vitest"
import { Catalog, type BatchChunk, type CatalogEntry, type CommittedRow, type SequencedStorage } from "../src/index.js"
import { MemoryStorage } from "./helpers.js"

/** A store numbering batches as PostgreSQL does (PgStorage), in memory: rows keep their commit and the replaced one's writer. */
class SharedMemory extends MemoryStorage implements SequencedStorage {
  readonly sequenced = true
  seq = 0
  readonly rows = new Map<string, { key: StorageKey; data: Uint8Array; seq: number; prev: number; writer: string }>()
  constructor(readonly writer = "one") {
    super()
  }
  async saveBatch(chunks: readonly BatchChunk[]): Promise<void> {
    const seq = ++this.seq
    for (const { key, data } of chunks) {
      const old = this.rows.get(JSON.stringify(key))
      this.rows.set(JSON.stringify(key), { key, data, seq, prev: old && old.writer !== this.writer ? old.seq : 0, writer: this.writer })
      await this.save(key, data)
    }
  }
  async sequence() {
    return { epoch: "store-epoch", seq: this.seq }
  }
  async loadCommitted(prefix: StorageKey): Promise<CommittedRow[]> {
    return [...this.rows.values()].filter(row => prefix.every((part, i) => row.key[i] === part)).map(row => this.row(row))
  }
  async applied(): Promise<void> {}
  row(row: { key: StorageKey; data: Uint8Array; seq: number; prev: number; writer: string }): CommittedRow {
    return { key: row.key, data: row.data, seq: row.seq, prev: row.prev, own: row.writer === this.writer }
  }
}

const entry = (id: string, heads: string[]): CatalogEntry => ({
  id,
  type: "task",
  createdAt: 1,
  createdBy: "m",
  modifiedAt: 2,
  deletedAt: null,
  heads,
})

describe("Catalog on a shared, sequenced storage", () => {
  it("takes the store's epoch and numbers; promises a number only once it was read back, never one it gave itself", async () => {
    const storage = new SharedMemory()
    const { catalog } = await Catalog.load(storage)
    expect(catalog.epoch).toBe("store-epoch")
    catalog.set(entry("a", ["h1"]))
    await catalog.flush()
    // Written, not yet read back: unnumbered, above any checkpoint, and nothing promised.
    expect(catalog.get("a")!.seq).toBeUndefined()
    expect([...catalog.changedSince(1_000)].map(e => e.id)).toEqual(["a"])
    expect(catalog.durableSeq).toBe(0)
    const [row] = await storage.loadCommitted(["cairn-catalog", "entry", "a"])
    expect(catalog.adopt(row!)).toMatchObject({ taken: true, concurrent: false })
    catalog.appliedUpTo(row!.seq)
    expect(catalog.get("a")!.seq).toBe(1)
    expect(catalog.durableSeq).toBe(1)
    expect([...catalog.changedSince(1)]).toEqual([])
    // Reopened, in another process: the same entries with the same numbers.
    const { catalog: other } = await Catalog.load(storage)
    expect(other.get("a")).toMatchObject({ heads: ["h1"], seq: 1 })
    expect(other.durableSeq).toBe(1)
  })

  it("keeps its own change over another's row until its own is written, and flags a row that replaced another process's", async () => {
    const storage = new SharedMemory("one")
    const elsewhere = new SharedMemory("two")
    const { catalog } = await Catalog.load(storage)
    catalog.set(entry("a", ["mine"]))
    // Another process's row for the same document, committed while ours is not written yet.
    await elsewhere.saveBatch([])
    const { catalog: theirs } = await Catalog.load(elsewhere)
    theirs.set(entry("a", ["theirs"]))
    await theirs.flush()
    const [their] = await elsewhere.loadCommitted(["cairn-catalog", "entry", "a"])
    expect(catalog.adopt(their!)).toMatchObject({ taken: false })
    expect(catalog.get("a")!.heads).toEqual(["mine"])
    // A row that replaces a version another process wrote is flagged: its writer may not have seen that one.
    const replacing: CommittedRow = { ...their!, seq: their!.seq + 1, prev: their!.seq, own: false }
    await catalog.flush()
    expect(catalog.adopt(replacing)).toMatchObject({ taken: true, concurrent: true })
  })
})
