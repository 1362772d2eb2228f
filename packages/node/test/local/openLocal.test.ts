/**
 * openLocal: an app gets the database API of the machine's peer for a data
 * directory, through the socket of the peer that holds it (here a NodePeer
 * in this process: the socket is real, and so is every check the peer makes)
 * or by opening the directory itself. Apps in separate processes:
 * test/local.test.ts.
 */
import { describe, expect, it } from "vitest"
import {
  defineType,
  f,
  ValidationError,
  WrongTypeError,
  DeletedDocumentError,
  type AppDatabase,
  type AppTransaction,
  type Transaction,
} from "@cairn/core"
import { LocalPeerError, NodePeer, openLocal, type LocalAppDatabase, type LocalDatabase } from "../../src/index.js"
import { waitFor } from "../../../core/test/wait.js"
import { afterThisTest, tempDir } from "../helpers/afterEachTest.js"

const Task = defineType("task", {
  fields: {
    title: f.string(),
    votes: f.counter(),
    notes: f.text().default(""),
    tags: f.list(f.string()),
  },
})

/** A peer holding a new directory, and an app on it through the peer's socket. */
async function holderAndApp(): Promise<{ dir: string; peer: NodePeer; app: LocalAppDatabase }> {
  const dir = await tempDir()
  const peer = await NodePeer.open({ dir, types: [Task] })
  afterThisTest(() => peer.close())
  const app = await openLocal({ dir, types: [Task] })
  afterThisTest(() => app.close())
  return { dir, peer, app }
}

/** App code written once against the interface, run on both implementations. */
async function workOn(db: AppDatabase): Promise<unknown> {
  const task = await db.create(Task, { title: "shared code" })
  const changed = await db.change(Task, task.id, draft => {
    draft.votes.increment(3)
    draft.notes.splice(0, 0, "typed draft")
    draft.tags.push("a", "b")
  })
  await db.delete(task.id)
  const deleted = await db.list(Task)
  await db.restore(task.id)
  return { data: changed.data, listedWhileDeleted: deleted.length, listed: (await db.list(Task)).map(doc => doc.data.title) }
}

describe("openLocal", () => {
  it("gives an app the peer's typed API through its socket, with the same results as peer.db", async () => {
    const { app } = await holderAndApp()
    expect(app.via).toBe("socket")
    const throughSocket = await workOn(app)
    const other = await NodePeer.open({ dir: await tempDir(), types: [Task] })
    afterThisTest(() => other.close())
    const direct = await workOn(other.db)
    expect(throughSocket).toEqual(direct)
    expect(throughSocket).toEqual({
      data: { title: "shared code", votes: 3, notes: "typed draft", tags: ["a", "b"] },
      listedWhileDeleted: 0,
      listed: ["shared code"],
    })
    // peer.db's transaction object satisfies the app's transaction type (checked by the type checker).
    const asApp: (tx: Transaction) => AppTransaction = tx => tx
    expect(typeof asApp).toBe("function")
  })

  it("text splice, counter increment and list push reach the holder's disk as this machine's changes", async () => {
    const { dir, peer, app } = await holderAndApp()
    const task = await app.create(Task, { title: "write", notes: "hello world", tags: ["x"] }, { message: "made by an app" })
    await app.change(
      Task,
      task.id,
      draft => {
        draft.notes.splice(5, 0, ",")
        draft.votes.increment(2)
        draft.tags.push("y")
      },
      { message: "edited by an app" },
    )
    // Concurrent with the app's next change: the holder's own increment merges with it.
    await Promise.all([
      peer.db.change(Task, task.id, draft => draft.votes.increment(10)),
      app.change(Task, task.id, draft => draft.votes.increment(1)),
    ])
    const history = await app.history(task.id)
    expect(history.map(change => change.machineId)).toEqual(Array(4).fill(peer.machineId))
    expect(history.slice(0, 2).map(change => change.message)).toEqual(["made by an app", "edited by an app"])
    await peer.close()
    const reopened = await NodePeer.open({ dir, types: [Task] })
    afterThisTest(() => reopened.close())
    expect((await reopened.db.get(Task, task.id)).data).toEqual({ title: "write", votes: 13, notes: "hello, world", tags: ["x", "y"] })
  })

  it("two apps on one peer, each writing at once, lose nothing: their changes merge", async () => {
    const { dir, peer, app } = await holderAndApp()
    const second = await openLocal({ dir, types: [Task] })
    afterThisTest(() => second.close())
    const task = await app.create(Task, { title: "shared" })
    const increments = (db: AppDatabase) =>
      Promise.all(Array.from({ length: 20 }, () => db.change(Task, task.id, draft => draft.votes.increment())))
    await Promise.all([increments(app), increments(second), increments(peer.db)])
    expect((await second.get(Task, task.id)).data.votes).toBe(60)
    const machines = new Set((await peer.db.history(task.id)).map(change => change.machineId))
    expect(machines).toEqual(new Set([peer.machineId]))
  })

  it("refuses an invalid change with ValidationError before sending it; nothing is stored", async () => {
    const { peer, app } = await holderAndApp()
    const task = await app.create(Task, { title: "valid" })
    const heads = peer.db.catalog.get(task.id)!.heads
    await expect(app.change(Task, task.id, draft => ((draft as any).title = 42))).rejects.toBeInstanceOf(ValidationError)
    await expect(app.change(Task, task.id, draft => draft.tags.push(7 as never))).rejects.toBeInstanceOf(ValidationError)
    await expect(app.change(Task, task.id, draft => ((draft as any).unknown = "x"))).rejects.toBeInstanceOf(ValidationError)
    await expect(app.create(Task, { title: 1 } as never)).rejects.toBeInstanceOf(ValidationError)
    expect(peer.db.catalog.get(task.id)!.heads).toEqual(heads)
    expect((await peer.db.list(Task)).length).toBe(1)
    // The copy the app keeps is still the peer's: the next valid change applies.
    expect((await app.change(Task, task.id, draft => (draft.title = "still fine"))).data.title).toBe("still fine")
    // The other checks a change passes on the peer: the type it names, and a deleted document.
    await expect(app.change("note", task.id, () => {})).rejects.toBeInstanceOf(WrongTypeError)
    await app.delete(task.id)
    await expect(app.change(Task, task.id, draft => (draft.title = "x"))).rejects.toBeInstanceOf(DeletedDocumentError)
  })

  it("a transaction of 3 documents where one change is invalid changes none; a valid one changes all 3 together", async () => {
    const { peer, app } = await holderAndApp()
    const ids = await Promise.all(["a", "b", "c"].map(async title => (await app.create(Task, { title })).id))
    const before = ids.map(id => peer.db.catalog.get(id)!.heads)
    const failing = app.transaction(tx => {
      tx.change(Task, ids[0]!, draft => (draft.title = "A"))
      tx.change(Task, ids[1]!, draft => draft.votes.increment())
      tx.change(Task, ids[2]!, draft => ((draft as any).title = null))
      tx.create(Task, { title: "new in the failed transaction" })
    })
    await expect(failing).rejects.toBeInstanceOf(ValidationError)
    expect(ids.map(id => peer.db.catalog.get(id)!.heads)).toEqual(before)
    expect((await peer.db.list(Task)).length).toBe(3)
    let created = ""
    const changes: string[] = []
    const stop = peer.db.on("change", event => changes.push(event.id))
    await app.transaction(tx => {
      for (const id of ids) tx.change(Task, id, draft => (draft.title = draft.title.toUpperCase()))
      created = tx.create(Task, { title: "d" })
    })
    stop()
    expect((await peer.db.list(Task, {})).map(doc => doc.data.title).sort()).toEqual(["A", "B", "C", "d"])
    expect(new Set(changes)).toEqual(new Set([...ids, created]))
  })

  it("live queries, subscriptions and change events through the socket see the holder's changes and the app's", async () => {
    const { peer, app } = await holderAndApp()
    let results: string[] = []
    const stopQuery = app.liveQuery(Task, { where: { title: "match" } }, docs => (results = docs.map(doc => doc.id)))
    let byPredicate: number[] = []
    const stopPredicate = app.liveQuery(Task, { where: doc => doc.data.votes > 0 }, docs => (byPredicate = docs.map(doc => doc.data.votes)))
    const events: string[] = []
    const stopEvents = app.on("change", event => events.push(`${event.id}:${event.origin}`))
    const mine = await app.create(Task, { title: "match" })
    const theirs = await peer.db.create(Task, { title: "match" })
    await peer.db.create(Task, { title: "other" })
    await waitFor(() => results.length === 2, { what: "the live query to list both matches" })
    expect(new Set(results)).toEqual(new Set([mine.id, theirs.id]))
    const seen: (number | undefined)[] = []
    const stopDoc = app.subscribe(theirs.id, doc => seen.push(doc?.data.votes as number | undefined))
    await waitFor(() => seen.length === 1)
    await peer.db.change(Task, theirs.id, draft => draft.votes.increment(5))
    await waitFor(() => seen.at(-1) === 5, { what: "the subscription to see the holder's change" })
    await waitFor(() => byPredicate.join() === "5", { what: "a predicate query, run on the app's side" })
    await peer.db.delete(theirs.id)
    await waitFor(() => seen.at(-1) === undefined && results.length === 1, { what: "the delete" })
    // The app's change is this machine's, as the holder's own: "local" both ways, also to a document the holder has open.
    expect(events).toContain(`${theirs.id}:local`)
    expect(events).toContain(`${mine.id}:local`)
    const onHolder: string[] = []
    const stopHolder = peer.db.on("change", event => onHolder.push(`${event.id}:${event.origin}`))
    const open = peer.db.subscribe(mine.id, () => {})
    await app.change(Task, mine.id, draft => draft.votes.increment())
    expect(onHolder).toEqual([`${mine.id}:local`])
    open()
    stopHolder()
    for (const stop of [stopQuery, stopPredicate, stopEvents, stopDoc]) stop()
    const count = events.length
    await peer.db.create(Task, { title: "after stop" })
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(events.length).toBe(count)
  })

  it("views and history as peer.db gives them", async () => {
    const { peer, app } = await holderAndApp()
    const task = await app.create(Task, { title: "v1" })
    await app.change(Task, task.id, draft => (draft.title = "v2"))
    const [first] = await app.history(task.id)
    expect((await app.view(task.id, first!.hash)).data.title).toBe("v1")
    expect(await app.view(task.id, first!.hash)).toEqual(await peer.db.view(task.id, first!.hash))
    expect(await app.get(Task, task.id)).toEqual(await peer.db.get(Task, task.id))
    await expect(app.get(task.id.slice(0, -1) + "x")).rejects.toThrow(/no document/)
  })

  it("opens the directory itself when no peer holds it, and then serves the next app", async () => {
    const dir = await tempDir()
    const first = await openLocal({ dir, types: [Task] })
    afterThisTest(() => first.close())
    expect(first.via).toBe("directory")
    const second = await openLocal({ dir, types: [Task] })
    afterThisTest(() => second.close())
    expect(second.via).toBe("socket")
    const task = await second.create(Task, { title: "through the first app's peer" })
    expect((await first.get(Task, task.id)).data.title).toBe("through the first app's peer")
  })

  it("after the holder stops, a call fails with LocalPeerError instead of hanging; once a peer holds the directory again, the app goes on", async () => {
    const { dir, peer, app } = await holderAndApp()
    const task = await app.create(Task, { title: "before" })
    let titles: string[] = []
    app.liveQuery(Task, { orderBy: "title" }, docs => (titles = docs.map(doc => doc.data.title)))
    await waitFor(() => titles.length === 1)
    await peer.close()
    await expect(app.get(task.id)).rejects.toBeInstanceOf(LocalPeerError)
    await expect(app.change(Task, task.id, draft => (draft.title = "after"))).rejects.toThrow(/lost the connection to the peer holding/)
    const restarted = await NodePeer.open({ dir, types: [Task] })
    afterThisTest(() => restarted.close())
    await restarted.db.create(Task, { title: "made while the app was away" })
    await waitFor(() => titles.length === 2, { what: "the live query to start again on the new peer" })
    const renamed = await waitFor(() => app.change(Task, task.id, draft => (draft.title = "after")), { what: "a change once reconnected" })
    expect(renamed.data.title).toBe("after")
    expect((await restarted.db.get(Task, task.id)).data.title).toBe("after")
    await waitFor(() => titles.join() === "after,made while the app was away")
  })

  it("without reconnecting, the session ends with the holder; openLocal again opens the directory", async () => {
    const dir = await tempDir()
    const peer = await NodePeer.open({ dir, types: [Task] })
    const app = await openLocal({ dir, types: [Task], reconnect: false })
    afterThisTest(() => app.close())
    const task = await app.create(Task, { title: "before" })
    await peer.close()
    await (app as LocalDatabase).ended
    await expect(app.get(task.id)).rejects.toBeInstanceOf(LocalPeerError)
    const again = await openLocal({ dir, types: [Task] })
    afterThisTest(() => again.close())
    expect(again.via).toBe("directory")
    expect((await again.get(Task, task.id)).data.title).toBe("before")
  })
})
