import { describe, expect, it } from "vitest"
import { unpackVouches, vouchedHash, vouchSigner } from "../src/identity/vouch.js"
import { isValidDocumentId } from "@automerge/automerge-repo"
import { Catalog, defineType, f, isVisible } from "../src/index.js"
import { MemoryStorage, openDb, storageKeys } from "./helpers.js"
import { hasImplausibleEntries } from "../src/database/rebuild.js"

const Task = defineType("task", { fields: { title: f.string() } })
const Note = defineType("note", { fields: { body: f.text() } })

/** A closed database with tasks (one deleted) and notes in `storage`. */
async function populated() {
  const storage = new MemoryStorage()
  const { db } = await openDb({ storage, types: [Task, Note] })
  const tasks = await Promise.all(["a", "b", "c"].map(title => db.create(Task, { title })))
  const notes = await Promise.all(["x", "y"].map(body => db.create(Note, { body })))
  await db.delete(tasks[2]!.id)
  const entries = new Map([...db.catalog.entries()].map(entry => [entry.id, { ...entry, seq: undefined }]))
  await db.close()
  return { storage, tasks, notes, entries }
}

const catalogKeys = (storage: MemoryStorage) => storageKeys(storage).filter(key => key[0] === "cairn-catalog")
/** The documents whose keys were read. */
const idsIn = (keys: string[][]) => new Set<string>(keys.map(key => key[0]).filter(id => id !== undefined && isValidDocumentId(id)))

describe("Catalog", () => {
  it("persists: a database reopened on a new repo knows every document without loading any", async () => {
    const { storage, tasks, notes, entries } = await populated()
    storage.reads.length = 0
    const { db, repo } = await openDb({ storage, types: [Task, Note] })
    expect(db.repairs).toBeUndefined()
    expect(db.catalog.size).toBe(5)
    for (const [id, entry] of entries) expect({ ...db.catalog.get(id), seq: undefined }).toEqual(entry)
    expect(db.types()).toEqual([
      { type: "note", count: 2 },
      { type: "task", count: 2 },
    ])
    // Opening read the catalog and nothing of any document.
    expect(storage.reads.some(key => key[0] === "cairn-catalog")).toBe(true)
    expect(idsIn(storage.reads)).toEqual(new Set())
    expect(Object.keys(repo.handles)).toEqual([])

    const listed = await db.list(Task)
    expect(listed.map(d => d.id).sort()).toEqual(
      tasks
        .slice(0, 2)
        .map(d => d.id)
        .sort(),
    )
    expect(listed.map(d => d.data.title).sort()).toEqual(["a", "b"])
    // Listing tasks read task bodies only (the deleted one is known deleted from the catalog) and loaded no handle.
    const read = idsIn(storage.reads)
    for (const note of notes) expect(read.has(note.id)).toBe(false)
    expect(read.has(tasks[2]!.id)).toBe(false)
    expect(Object.keys(repo.handles)).toEqual([])

    storage.reads.length = 0
    expect((await db.list(Note)).map(d => d.id).sort()).toEqual(notes.map(d => d.id).sort())
    for (const task of tasks) expect(idsIn(storage.reads).has(task.id)).toBe(false)
  })

  it("never loads documents of another type when querying, in the same session either", async () => {
    const { storage, notes } = await populated()
    const { db, repo } = await openDb({ storage, types: [Task, Note] })
    storage.reads.length = 0
    await db.query(Task, { where: d => d.data.title !== "zzz", orderBy: "title" })
    await db.get(Task, [...db.catalog.idsOfType("task")][0]!)
    for (const note of notes) {
      expect(idsIn(storage.reads).has(note.id)).toBe(false)
      expect(repo.handles).not.toHaveProperty(note.id)
    }
  })

  it("batches updates into a log and compacts it into a snapshot", async () => {
    const storage = new MemoryStorage()
    const { db } = await openDb({ storage, types: [Task] })
    let mostLogRecords = 0
    const ids: string[] = []
    for (let i = 0; i < 40; i++) {
      ids.push((await db.create(Task, { title: `t${i}` })).id)
      mostLogRecords = Math.max(mostLogRecords, catalogKeys(storage).filter(key => key[1] === "log").length)
    }
    // One log record per flush, never more than the compaction threshold.
    expect(mostLogRecords).toBeGreaterThan(1)
    expect(mostLogRecords).toBeLessThanOrEqual(32)
    expect(catalogKeys(storage).filter(key => key[1] === "log").length).toBeLessThan(40)
    expect(catalogKeys(storage).some(key => key[1] === "snapshot")).toBe(true)
    await db.close()
    // Closing compacts: one snapshot, no log.
    expect(catalogKeys(storage)).toEqual([["cairn-catalog", "snapshot"]])
    const loaded = await Catalog.load(storage)
    expect(loaded.found).toBe(true)
    expect(loaded.damaged).toBe(false)
    expect([...loaded.catalog.idsOfType("task")].sort()).toEqual(ids.sort())
  })

  it("applies log records written after the snapshot when it loads", async () => {
    const storage = new MemoryStorage()
    const { db } = await openDb({ storage, types: [Task] })
    const first = await db.create(Task, { title: "in the snapshot or log" })
    await db.change(Task, first.id, d => (d.title = "changed"))
    const second = await db.create(Task, { title: "in the log" })
    await db.replica.flush()
    expect(catalogKeys(storage).some(key => key[1] === "log")).toBe(true)
    const { catalog, damaged } = await Catalog.load(storage)
    expect(damaged).toBe(false)
    expect(catalog.get(first.id)!.heads).toEqual(db.catalog.get(first.id)!.heads)
    expect(catalog.has(second.id)).toBe(true)
  })

  it("keeps a machine's vouch for its change with the entry, on disk, without giving the entry a new number", async () => {
    const storage = new MemoryStorage()
    const { db } = await openDb({ storage, types: [Task] })
    const task = await db.create(Task, { title: "vouched for" })
    await db.change(Task, task.id, d => (d.title = "and again"))
    await db.replica.flush()
    const entry = db.catalog.get(task.id)!
    // The newest vouch names the change the entry lists, and is this machine's (identity/vouch.ts); the one before
    // it, for the creation, is kept too.
    const vouches = unpackVouches(entry.vouches)!
    expect(vouches).toHaveLength(2)
    const vouch = vouches.at(-1)
    expect(vouchedHash(vouch!)).toBe(entry.heads[0])
    expect(await vouchSigner(task.id, vouch)).toBe(db.machine.machineId)
    // No new number for it: the next document's number is the next one (a peer's checkpoint is compared with them).
    const next = await db.create(Task, { title: "next" })
    expect(db.catalog.get(next.id)!.seq).toBe(entry.seq! + 1)
    const { catalog } = await Catalog.load(storage)
    expect(catalog.get(task.id)!.vouches).toEqual(entry.vouches)
    expect(catalog.get(task.id)!.seq).toBe(entry.seq)
  })

  it("writes what was captured before the documents were saved, not what changed while they saved", async () => {
    const storage = new MemoryStorage()
    const { catalog } = await Catalog.load(storage)
    const entry = (id: string, title: string) => ({
      id,
      type: "task",
      createdAt: 1,
      createdBy: "m",
      modifiedAt: title.length,
      deletedAt: null,
      heads: [title],
    })
    const onDisk = async () => new Map([...(await Catalog.load(storage)).catalog.entries()].map(e => [e.id, e.heads[0]]))

    catalog.set(entry("a", "a1"))
    const captured = catalog.capture()
    // Changed while the group's documents were being saved: their documents are not on disk yet.
    catalog.set(entry("a", "a2"))
    catalog.set(entry("b", "b1"))
    await catalog.flush(captured)
    expect(await onDisk()).toEqual(new Map([["a", "a1"]]))
    expect(catalog.durableSeq).toBe(captured.upTo)
    await catalog.flush()
    expect(await onDisk()).toEqual(
      new Map([
        ["a", "a2"],
        ["b", "b1"],
      ]),
    )

    // A compaction writes the whole catalog as it is on disk: captured versions, and for entries changed since, their last written one.
    const logRecords = () => storageKeys(storage).filter(key => key[0] === "cairn-catalog" && key[1] === "log")
    for (let i = 0; logRecords().length < 32; i++) {
      catalog.set(entry(`x${i}`, "x"))
      await catalog.flush()
    }
    catalog.set(entry("a", "a3"))
    const next = catalog.capture()
    catalog.set(entry("a", "a4"))
    catalog.set(entry("b", "b2"))
    catalog.set(entry("c", "c1"))
    await catalog.flush(next)
    expect(logRecords()).toEqual([])
    const compacted = await onDisk()
    expect([compacted.get("a"), compacted.get("b"), compacted.has("c")]).toEqual(["a3", "b1", false])
    await catalog.flush()
    const later = await onDisk()
    expect([later.get("a"), later.get("b"), later.get("c")]).toEqual(["a4", "b2", "c1"])
  })

  describe("rebuild", () => {
    async function expectRebuilt(storage: MemoryStorage, tasks: { id: string }[], notes: { id: string }[], entries: Map<string, object>) {
      const { db } = await openDb({ storage, types: [Task, Note] })
      expect(db.repairs).toEqual({ documents: 5, damaged: [] })
      expect(db.catalog.size).toBe(5)
      // Vouches are not in the documents, so a rebuilt catalog has none (this machine vouches for its own documents
      // again as it sends them: Replica.vouchesFor).
      for (const [id, entry] of entries) expect({ ...db.catalog.get(id), seq: undefined }).toEqual({ ...entry, vouches: undefined })
      expect((await db.list(Task)).map(d => d.id).sort()).toEqual(
        tasks
          .slice(0, 2)
          .map(d => d.id)
          .sort(),
      )
      expect((await db.list(Task, { includeDeleted: true })).length).toBe(3)
      expect((await db.list(Note)).map(d => d.id).sort()).toEqual(notes.map(d => d.id).sort())
      await db.close()
      // The rebuilt catalog was saved: the next open needs no repair.
      expect((await openDb({ storage })).db.repairs).toBeUndefined()
    }

    it("rebuilds from the documents when the catalog keys are gone", async () => {
      const { storage, tasks, notes, entries } = await populated()
      for (const key of catalogKeys(storage)) storage.data.delete(key.join("\u0000"))
      await expectRebuilt(storage, tasks, notes, entries)
    })

    it("rebuilds when the catalog snapshot is corrupted", async () => {
      const { storage, tasks, notes, entries } = await populated()
      storage.data.set(["cairn-catalog", "snapshot"].join("\u0000"), new TextEncoder().encode('{"format":1,"entr'))
      await expectRebuilt(storage, tasks, notes, entries)
    })

    it("rebuilds when a log record is corrupted", async () => {
      const { storage, tasks, notes, entries } = await populated()
      storage.data.set(["cairn-catalog", "log", "000000000099"].join("\u0000"), new Uint8Array([0xff, 0x00, 0x13]))
      await expectRebuilt(storage, tasks, notes, entries)
    })

    it("rebuilds when a record parses but holds no valid entries", async () => {
      const { storage, tasks, notes, entries } = await populated()
      const bad = JSON.stringify({ format: 1, epoch: "x", seq: 1, entries: [{ id: 3 }] })
      storage.data.set(["cairn-catalog", "snapshot"].join("\u0000"), new TextEncoder().encode(bad))
      await expectRebuilt(storage, tasks, notes, entries)
    })

    it("checks each id's own checksum on a storage without checksums, and only its shape on one that checksums every record", async () => {
      const { tasks } = await populated()
      const good = tasks[0]!.id
      const swapped = good.slice(0, -2) + (good.at(-2) === "a" ? "b" : "a") + good.at(-1)
      const plausible = async (id: string, checksummed: boolean) => {
        const { catalog } = await Catalog.load(undefined)
        catalog.set({ id, type: "task", createdAt: 1, createdBy: "m", modifiedAt: 1, deletedAt: null, heads: [] })
        return !hasImplausibleEntries(catalog, checksummed)
      }
      expect([await plausible(good, false), await plausible(good, true)]).toEqual([true, true])
      // A flipped character that stays base58: only the id's checksum finds it (the log's record checksum would have).
      expect([await plausible(swapped, false), await plausible(swapped, true)]).toEqual([false, true])
      const notBase58 = good.replace(/.$/, "0")
      expect([await plausible(notBase58, false), await plausible(notBase58, true)]).toEqual([false, false])
    })

    it("keeps purge tombstones it can still read, and reports documents it cannot load", async () => {
      const storage = new MemoryStorage()
      const { db } = await openDb({ storage, types: [Task] })
      const purged = await db.create(Task, { title: "gone" })
      const broken = await db.create(Task, { title: "broken" })
      await db.purge(purged.id)
      await db.close()
      for (const key of storageKeys(storage)) if (key[0] === broken.id) storage.data.set(key.join("\u0000"), new Uint8Array([1, 2, 3]))
      storage.data.set(["cairn-catalog", "log", "000000000099"].join("\u0000"), new Uint8Array([0xff]))
      const reopened = await openDb({ storage, types: [Task] })
      expect(reopened.db.repairs!.damaged.map(d => d.id)).toEqual([broken.id])
      expect(reopened.db.catalog.get(purged.id)).toMatchObject({ purged: true })
    })
  })
})

describe("isVisible", () => {
  const entry = { id: "x", type: "task", createdAt: 1, createdBy: "m", modifiedAt: 1, deletedAt: null, heads: ["h"] }

  it("shows an entry that is held, not quarantined and not deleted (deleted ones only when asked)", () => {
    expect(isVisible(entry)).toBe(true)
    expect(isVisible(undefined)).toBe(false)
    expect(isVisible({ ...entry, purged: true, heads: [] })).toBe(false)
    expect(isVisible({ ...entry, quarantined: "its type was changed" })).toBe(false)
    expect(isVisible({ ...entry, deletedAt: 2 })).toBe(false)
    expect(isVisible({ ...entry, deletedAt: 2 }, { includeDeleted: true })).toBe(true)
    expect(isVisible({ ...entry, deletedAt: 2, purged: true }, { includeDeleted: true })).toBe(false)
  })
})
