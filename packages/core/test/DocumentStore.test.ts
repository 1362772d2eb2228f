/**
 * What the store does with changes that arrive from peers: accept them,
 * or quarantine a document whose type a peer changed or whose data breaks
 * its definition. The peer is a plain automerge-repo Repo editing the
 * document's raw Automerge state, as a buggy or hostile app could.
 */
import * as A from "@automerge/automerge"
import { Repo, type DocumentId } from "@automerge/automerge-repo"
import { describe, expect, it } from "vitest"
import { defineType, f, PurgedError, QuarantinedError, type Database, type Doc } from "../src/index.js"
import { changeChunks } from "../src/database/StoredChunks.js"
import { adapterPair, MemoryStorage, openDb, sendDocs, sleep, storageKeys, vouchesOf, waitFor } from "./helpers.js"
import { Machine } from "../src/identity/Machine.js"
import { newSessionActor } from "../src/identity/actor.js"
import { makeVouch, packVouches } from "../src/identity/vouch.js"

const Task = defineType("task", { fields: { title: f.string(), done: f.boolean().default(false) } })
const Note = defineType("note", { fields: { body: f.text() } })

/** Storage that tells a test when a range of keys is read. */
class LoadHookStorage extends MemoryStorage {
  onLoad: ((prefix: string[]) => void) | undefined
  override async loadRange(prefix: string[]) {
    this.onLoad?.(prefix)
    return super.loadRange(prefix)
  }
}

/**
 * A raw copy of a database's document in a separate Repo, for a peer to edit: a machine of its own, which vouches
 * for its changes (identity/vouch.ts) with the database's vouches for the rest, as a peer passes them on.
 */
async function rawPeerCopy(db: Database, id: string) {
  const machine = await Machine.generate()
  const repo = new Repo({ network: [] })
  const handle = repo.import<any>((await db.replica.store.readStored(id))!, { docId: id as DocumentId })
  handle.update(doc => A.clone(doc, { actor: newSessionActor(machine.machineId) }))
  const held = await db.replica.vouchesFor(id)
  const vouched = async () =>
    packVouches([...held, ...(await Promise.all(A.getHeads(handle.doc()).map(head => makeVouch(machine, id, head))))])
  const send = async () => db.replica.ingest([{ id, bytes: A.save(handle.doc()), vouches: await vouched() }])
  return { handle, send, vouched }
}

/** Everything the app could see of a document, recorded while a peer changes its type. */
function observe(db: Database, id: string) {
  const quarantines: { id: string; type: string; reason: string }[] = []
  const seen: (Doc | undefined)[] = []
  const live: string[][] = []
  db.on("quarantine", event => quarantines.push(event))
  db.subscribe(id, doc => seen.push(doc))
  db.liveQuery(Task, {}, docs => live.push(docs.map(d => d.id)))
  return { quarantines, seen, live }
}

async function expectQuarantined(db: Database, id: string, reason: RegExp) {
  await expect(db.get(id)).rejects.toThrow(QuarantinedError)
  await expect(db.get(Task, id)).rejects.toThrow(reason)
  await expect(db.change(Task, id, d => (d.done = true))).rejects.toThrow(QuarantinedError)
  expect((await db.list(Task, { includeDeleted: true })).map(d => d.id)).not.toContain(id)
  expect(await db.list("note", { includeDeleted: true })).toEqual([])
  expect(db.catalog.get(id)!.type).toBe("task")
  expect(db.types().find(t => t.type === "note")).toBeUndefined()
}

/** A task that a peer's bytes did not change: still a task with its data, listed, not quarantined. */
async function expectUnchanged(db: Database, id: string, title: string) {
  expect((await db.get(Task, id)).data.title).toBe(title)
  expect(db.catalog.get(id)!.type).toBe("task")
  expect(db.catalog.get(id)!.quarantined).toBeUndefined()
  expect((await db.list(Task)).map(d => d.id)).toContain(id)
  expect(await db.list("note", { includeDeleted: true })).toEqual([])
}

describe("a document whose type a peer changed", () => {
  it("is refused when the change arrives for a document in memory: the document stays as it was", async () => {
    const { db } = await openDb({ types: [Task, Note] })
    const other = await db.create(Task, { title: "unaffected" })
    const doc = await db.create(Task, { title: "victim" })
    const { quarantines, seen, live } = observe(db, doc.id)
    await expect.poll(() => live.at(-1)?.length).toBe(2)
    const peer = await rawPeerCopy(db, doc.id)
    peer.handle.change(d => (d.type = new A.ImmutableString("note")))
    const refused: [string, string][] = []
    await db.replica.ingest([{ id: doc.id, bytes: A.save(peer.handle.doc()), vouches: await peer.vouched() }], undefined, (id, reason) =>
      refused.push([id, reason]),
    )
    expect(refused).toEqual([[doc.id, "a document's type is fixed at its creation and cannot be changed"]])
    await expectUnchanged(db, doc.id, "victim")
    expect(seen.at(-1)?.data.title).toBe("victim")
    expect(live.at(-1)).toHaveLength(2)
    // The same change with more on top is refused too (it is in the peer's history for good), and the rest of the database works on.
    peer.handle.change(d => (d.data.title = new A.ImmutableString("more")))
    await peer.send()
    await expectUnchanged(db, doc.id, "victim")
    expect(quarantines).toEqual([])
    expect((await db.change(Task, other.id, d => (d.done = true))).data.done).toBe(true)
  })

  it("is refused when only the changes arrive (saveSince) for a document in memory, checked without a copy", async () => {
    const { db } = await openDb({ types: [Task, Note] })
    const doc = await db.create(Task, { title: "victim" })
    db.subscribe(doc.id, () => {})
    const peer = await rawPeerCopy(db, doc.id)
    const before = A.getHeads(peer.handle.doc())
    peer.handle.change(d => (d.data.title = new A.ImmutableString("fine")))
    peer.handle.change(d => (d.type = new A.ImmutableString("note")))
    const since = A.saveSince(peer.handle.doc(), before)
    expect(changeChunks(since)).toHaveLength(2)
    expect(changeChunks(A.save(peer.handle.doc()))).toBeUndefined()
    const refused: string[] = []
    await db.replica.ingest([{ id: doc.id, bytes: since, vouches: await peer.vouched() }], undefined, (_, reason) => refused.push(reason))
    expect(refused).toEqual(["a document's type is fixed at its creation and cannot be changed"])
    await expectUnchanged(db, doc.id, "victim")
  })

  it("is refused when the change arrives for a document not loaded, and stays so after a reopen", async () => {
    const storage = new MemoryStorage()
    const first = await openDb({ storage, types: [Task, Note] })
    const doc = await first.db.create(Task, { title: "victim" })
    await first.db.close()
    const { db } = await openDb({ storage, types: [Task, Note] })
    const quarantines: unknown[] = []
    db.on("quarantine", event => quarantines.push(event))
    const peer = await rawPeerCopy(db, doc.id)
    peer.handle.change(d => (d.type = new A.ImmutableString("note")))
    const refused: string[] = []
    await db.replica.ingest([{ id: doc.id, bytes: A.save(peer.handle.doc()), vouches: await peer.vouched() }], undefined, (_, reason) =>
      refused.push(reason),
    )
    expect(refused).toEqual(["a document's type is fixed at its creation and cannot be changed"])
    expect(quarantines).toEqual([])
    await expectUnchanged(db, doc.id, "victim")
    await db.close()
    const reopened = await openDb({ storage, types: [Task, Note] })
    await expectUnchanged(reopened.db, doc.id, "victim")
  })

  it("is refused in an import of its history, with the reason", async () => {
    const { db } = await openDb({ types: [Task, Note] })
    const doc = await db.create(Task, { title: "victim" })
    const peer = await rawPeerCopy(db, doc.id)
    // createdAt: the envelope itself reads as well-formed with it rewritten, so only the check of what changed can refuse it.
    peer.handle.change(d => (d.createdAt = 1))
    await expect(db.importHistory(doc.id, A.save(peer.handle.doc()))).rejects.toThrow(
      `the history of ${doc.id} is refused: a document's createdAt is fixed at its creation and cannot be changed`,
    )
    await expectUnchanged(db, doc.id, "victim")
    expect((await db.get(Task, doc.id)).createdAt).toBe(doc.createdAt)
  })

  it("a change to its data alone, in the same bytes path, is applied", async () => {
    const { db } = await openDb({ types: [Task, Note] })
    const doc = await db.create(Task, { title: "before" })
    const peer = await rawPeerCopy(db, doc.id)
    peer.handle.change(d => (d.data.title = new A.ImmutableString("after")))
    const refused: string[] = []
    await db.replica.ingest([{ id: doc.id, bytes: A.save(peer.handle.doc()), vouches: await peer.vouched() }], undefined, (_, reason) =>
      refused.push(reason),
    )
    expect(refused).toEqual([])
    await expectUnchanged(db, doc.id, "after")
  })

  it("is quarantined on a peer that first sees it with the type already changed", async () => {
    const { db: origin } = await openDb({ types: [Task, Note] })
    const doc = await origin.create(Task, { title: "victim" })
    const peer = await rawPeerCopy(origin, doc.id)
    peer.handle.change(d => (d.type = new A.ImmutableString("note")))
    const { db } = await openDb({ types: [Task, Note] })
    const quarantines: { reason: string }[] = []
    db.on("quarantine", event => quarantines.push(event))
    await db.replica.ingest([{ id: doc.id, bytes: A.save(peer.handle.doc()), vouches: await peer.vouched() }])
    expect(quarantines.map(q => q.reason)).toEqual(["its type was changed after creation"])
    await expect(db.get(doc.id)).rejects.toThrow(QuarantinedError)
    expect(await db.list(Task)).toEqual([])
    expect(await db.list(Note)).toEqual([])
  })

  it("is quarantined when it arrives by automerge-repo's live sync", async () => {
    const [wireA, wireB] = adapterPair()
    const storage = new MemoryStorage()
    // Wired as a peer wires it (peer/Peer.ts): a document a peer syncs live reaches the store (Replicator.shareConfig).
    let track: (id: string) => void = () => {}
    const shareConfig = {
      announce: async () => true,
      access: async (_: unknown, id?: string) => {
        if (id) track(id)
        return true
      },
    }
    const { db } = await openDb({ storage, repo: new Repo({ storage, network: [wireA], shareConfig }), types: [Task, Note] })
    track = id => db.replica.track(id)
    const doc = await db.create(Task, { title: "victim" })
    const { quarantines, seen } = observe(db, doc.id)
    const peerRepo = new Repo({ network: [wireB] })
    const handle = await peerRepo.find<any>(doc.id as DocumentId)
    handle.change(d => (d.data.title = new A.ImmutableString("renamed by the peer")))
    await expect.poll(() => seen.at(-1)?.data.title).toBe("renamed by the peer")
    handle.change(d => (d.type = new A.ImmutableString("note")))
    await waitFor(() => quarantines.length === 1)
    await expectQuarantined(db, doc.id, /its type was changed after creation/)
    await expect.poll(() => seen.at(-1)).toBeUndefined()
  })
})

describe("changes from peers", () => {
  it("quarantines a document whose data breaks its definition", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "t" })
    const peer = await rawPeerCopy(db, doc.id)
    peer.handle.change(d => (d.data.title = 42))
    const quarantines: { reason: string }[] = []
    db.on("quarantine", event => quarantines.push(event))
    await peer.send()
    expect(quarantines.map(q => q.reason)).toEqual([
      "its data does not match type task: expected a string register, got number 42 (at title)",
    ])
    await expect(db.get(doc.id)).rejects.toThrow(QuarantinedError)
  })

  it("applies a valid change, tells subscribers, and records it in the catalog", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "t" })
    const changes: { id: string; origin: string }[] = []
    db.on("change", event => changes.push({ id: event.id, origin: event.origin }))
    const seen: (Doc | undefined)[] = []
    db.subscribe(doc.id, d => seen.push(d))
    const peer = await rawPeerCopy(db, doc.id)
    peer.handle.change(d => (d.data.done = true))
    const [entry] = await peer.send()
    expect(entry!.heads).toEqual([...A.getHeads(peer.handle.doc())].sort())
    expect(db.catalog.get(doc.id)!.heads).toEqual(entry!.heads)
    expect(changes).toContainEqual({ id: doc.id, origin: "remote" })
    await expect.poll(() => seen.at(-1)?.data.done).toBe(true)
  })

  it("sends a deleted document to another database as deleted, and the same bytes twice change nothing", async () => {
    const { db: a } = await openDb({ types: [Task] })
    const { db: b } = await openDb({ types: [Task] })
    const doc = await a.create(Task, { title: "t" })
    await a.delete(doc.id)
    await sendDocs(a, b, [doc.id])
    expect((await b.get(doc.id)).deletedAt).toBe((await a.get(doc.id)).deletedAt)
    expect(await b.list(Task)).toEqual([])
    const seq = b.catalog.changeSeq
    await sendDocs(a, b, [doc.id])
    await sleep(5)
    expect(b.catalog.changeSeq).toBe(seq)
  })

  it("refuses a document of a type the receiver did not ask for", async () => {
    const { db: a } = await openDb({ types: [Task, Note] })
    const { db: b } = await openDb({ types: [Task, Note] })
    const note = await a.create(Note, { body: "private" })
    const bytes = (await a.replica.store.readStored(note.id))!
    expect(await b.replica.ingest([{ id: note.id, bytes, vouches: await vouchesOf(a, note.id) }], type => type === "task")).toEqual([])
    expect(b.catalog.has(note.id)).toBe(false)
  })

  it("catches the catalog up with a stored copy that is ahead of it (a chunk written, its catalog record not), so the changes are offered again", async () => {
    const { db: a } = await openDb({ types: [Task] })
    const { db: b, storage, machine, repo } = await openDb({ types: [Task] })
    const doc = await a.create(Task, { title: "v1" })
    await sendDocs(a, b, [doc.id])
    const before = A.getHeads((await a.replica.store.handle(doc.id)).doc())
    await a.change(Task, doc.id, d => void (d.title = "v2"))
    // b stored the change, then stopped before its catalog said so (a crash, or a close mid-ingest).
    await storage.save([doc.id, "incremental", "interrupted"], A.saveSince((await a.replica.store.handle(doc.id)).doc(), before))
    await b.close()
    await repo.shutdown()
    const reopened = await openDb({ storage, machine, types: [Task] })
    const heads = a.catalog.get(doc.id)!.heads
    expect(reopened.db.catalog.get(doc.id)!.heads).not.toEqual(heads)
    // The first read of the document (or a peer's offer of it, compared against the stored copy) brings the catalog up to what is stored.
    expect((await reopened.db.get(Task, doc.id)).data.title).toBe("v2")
    expect(reopened.db.catalog.get(doc.id)!.heads).toEqual(heads)
  })

  it("a write to a document that a peer's purge removes while it loads fails with PurgedError", async () => {
    const { db: a } = await openDb({ types: [Task] })
    const storage = new LoadHookStorage()
    const { db: b } = await openDb({ types: [Task], storage })
    const doc = await a.create(Task, { title: "t" })
    await a.delete(doc.id)
    await sendDocs(a, b, [doc.id])
    // The tombstone lands while the repo loads the document for the write (its second read of the document's chunks).
    let reads = 0
    storage.onLoad = prefix => {
      if (prefix[0] === doc.id && ++reads === 2)
        b.replica.applyTombstone({ ...b.catalog.get(doc.id)!, heads: [], purged: true, modifiedAt: Date.now() })
    }
    await expect(b.restore(doc.id)).rejects.toThrow(PurgedError)
  })

  it("keeps a purge when the document's bytes arrive after it (asked for before the tombstone came)", async () => {
    const { db: a } = await openDb({ types: [Task] })
    const { db: b, storage } = await openDb({ types: [Task] })
    const doc = await a.create(Task, { title: "t" })
    await a.delete(doc.id)
    const bytes = (await a.replica.store.readStored(doc.id))!
    // b asked a peer for the document; another peer's tombstone for it lands first, then the bytes.
    const tombstone = { ...a.catalog.get(doc.id)!, heads: [], purged: true as const, modifiedAt: Date.now() }
    b.replica.applyTombstone(tombstone)
    await b.replica.ingest([{ id: doc.id, bytes, vouches: await vouchesOf(a, doc.id) }])
    expect(b.catalog.get(doc.id)?.purged).toBe(true)
    await expect(b.get(doc.id)).rejects.toThrow(/purged/i)
    // Nor is its body stored again.
    expect(storageKeys(storage).filter(key => key[0] === doc.id)).toEqual([])
  })

  it("keeps a document that peers change again and again in a few chunks, whole", async () => {
    const { db: a } = await openDb({ types: [Task] })
    const storage = new MemoryStorage()
    const { db: b, machine } = await openDb({ types: [Task], storage })
    const doc = await a.create(Task, { title: "v0" })
    const chunks = () => storageKeys(storage).filter(key => key[0] === doc.id && key[1] !== "sync-state").length
    let most = 0
    for (let i = 1; i <= 60; i++) {
      await a.change(Task, doc.id, d => (d.title = `v${i}`))
      await sendDocs(a, b, [doc.id])
      most = Math.max(most, chunks())
    }
    expect((await b.get(Task, doc.id)).data.title).toBe("v60")
    // One chunk per batch ingested, compacted into one snapshot every 16 (without it: 61 chunks, all read on every load).
    expect(most).toBeLessThanOrEqual(16)
    await b.close()
    const reopened = await openDb({ types: [Task], storage, machine })
    expect((await reopened.db.get(Task, doc.id)).data.title).toBe("v60")
    expect(reopened.db.catalog.get(doc.id)!.heads).toEqual(a.catalog.get(doc.id)!.heads)
  })
})
