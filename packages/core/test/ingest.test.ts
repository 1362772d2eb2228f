/**
 * A document new to a peer reaches it in one of two ways: as its first
 * change exactly as Cairn writes it (what an initial sync moves), read
 * without Automerge, or as anything else (a saved document, several changes),
 * loaded with Automerge. Both must list, quarantine and refuse alike: the
 * same bytes sent either way give the same catalog entry, the same reason
 * and the same document.
 */
import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { newDocument, readFirstChange } from "../src/document/creation.js"
import type { Envelope } from "../src/document/envelope.js"
import { defineType, f, type Database } from "../src/index.js"
import { openDb, vouchesOf, waitFor } from "./helpers.js"
import type { MachineIdentity } from "../src/identity/Machine.js"
import { makeVouch, packVouches } from "../src/identity/vouch.js"

const Task = defineType("task", { fields: { title: f.string(), done: f.boolean().default(false) } })
const Note = defineType("note", { fields: { body: f.text().default("") } })

/** A task made on another peer, as its first change, and that peer's machine. */
async function madeElsewhere(data: Record<string, unknown> = { title: "from a peer" }) {
  const { db, machine } = await openDb({ types: [Task, Note] })
  const { id } = await db.create(Task, data as { title: string })
  const bytes = (await db.replica.store.readStored(id))!
  await db.close()
  return { id, bytes, machine }
}

/** The same change with its root altered and encoded again (a peer forging or breaking it). */
function altered(bytes: Uint8Array, alter: (root: Envelope) => void): Uint8Array {
  const read = readFirstChange(bytes)!
  alter(read.root)
  return newDocument(read.actor, read.root, read.time).bytes
}

/** What each of two fresh peers (wanting `wanted`) lists after one is sent the change and the other the saved document. */
async function bothWays(id: string, change: Uint8Array, signer: MachineIdentity, wanted = (_type: string) => true) {
  expect(readFirstChange(change), "the change is the kind read without Automerge").toBeDefined()
  // The creating machine's vouch for its change, as it sends it (identity/vouch.ts).
  const vouches = packVouches([await makeVouch(signer, id, readFirstChange(change)!.head)])
  const saved = A.save(A.load(change))
  expect(readFirstChange(saved), "a saved document is Automerge's to load").toBeUndefined()
  const results = []
  for (const bytes of [change, saved]) {
    const { db } = await openDb({ types: [Task, Note] })
    const refused: string[] = []
    const quarantined: string[] = []
    db.on("quarantine", event => quarantined.push(event.reason))
    const entries = await db.replica.ingest([{ id, bytes, vouches }], wanted, (_, reason) => refused.push(reason))
    results.push({ db, entries, entry: db.catalog.get(id), refused, quarantined })
  }
  return results as [Result, Result]
}

interface Result {
  db: Database
  entries: unknown[]
  entry: ReturnType<Database["catalog"]["get"]>
  refused: string[]
  quarantined: string[]
}

describe("a document new here, read from its first change or loaded by Automerge", () => {
  it("is listed alike, with the same times and heads, and reads as the same document", async () => {
    const { id, bytes, machine } = await madeElsewhere()
    const [fast, loaded] = await bothWays(id, bytes, machine)
    expect(fast.entry).toEqual(loaded.entry)
    expect(fast.entry).toMatchObject({ type: "task", createdBy: machine.machineId, heads: A.getHeads(A.load(bytes)) })
    expect(fast.entry!.quarantined).toBeUndefined()
    expect(fast.entries).toEqual(loaded.entries)
    expect(await fast.db.get(Task, id)).toEqual(await loaded.db.get(Task, id))
    expect((await fast.db.get(Task, id)).data).toEqual({ title: "from a peer", done: false })
  })

  it("reads its later changes, local or from a peer, not the state it arrived in", async () => {
    const { db: other } = await openDb({ types: [Task, Note] })
    const { id } = await other.create(Task, { title: "from a peer" })
    const [fast] = await bothWays(id, (await other.replica.store.readStored(id))!, other.machine)
    const seen: boolean[] = []
    const stop = fast.db.liveQuery(Task, {}, docs => seen.push(docs[0]?.data.done as boolean))
    expect((await fast.db.get(Task, id)).data.done).toBe(false)
    await fast.db.change(Task, id, d => (d.done = true))
    expect((await fast.db.get(Task, id)).data.done).toBe(true)
    expect((await fast.db.list(Task))[0]!.data.done).toBe(true)
    await other.change(Task, id, d => (d.title = "renamed there"))
    await fast.db.replica.ingest([{ id, bytes: (await other.replica.store.readStored(id))!, vouches: await vouchesOf(other, id) }])
    expect((await fast.db.get(Task, id)).data).toEqual({ title: "renamed there", done: true })
    await waitFor(() => seen.at(-1) === true)
    stop()
  })

  it("is quarantined alike when its proof was forged", async () => {
    const { id, bytes, machine } = await madeElsewhere()
    const forged = altered(bytes, root => {
      root.proof = root.proof.slice()
      root.proof[0]! ^= 1
    })
    const [fast, loaded] = await bothWays(id, forged, machine)
    expect(fast.entry!.quarantined).toMatch(/does not verify/)
    expect(fast.entry).toEqual(loaded.entry)
    expect(fast.quarantined).toEqual(loaded.quarantined)
  })

  it("is quarantined alike when it names another machine as its creator, or when its id is not the one signed", async () => {
    const { id, bytes, machine } = await madeElsewhere()
    const [fast, loaded] = await bothWays(
      id,
      altered(bytes, root => (root.createdBy = new A.ImmutableString("ab".repeat(16)))),
      machine,
    )
    expect(fast.entry!.quarantined).toBe("its creator does not match the machine that created it")
    expect(fast.entry).toEqual(loaded.entry)
    const other = (await madeElsewhere()).id
    const [fastId, loadedId] = await bothWays(other, bytes, machine)
    expect(fastId.entry!.quarantined).toMatch(/does not verify/)
    expect(fastId.entry).toEqual(loadedId.entry)
  })

  it("is quarantined alike when its data does not match its type", async () => {
    const { id, bytes, machine } = await madeElsewhere()
    const [fast, loaded] = await bothWays(
      id,
      altered(bytes, root => (root.data = { title: 42, done: false })),
      machine,
    )
    expect(fast.entry!.quarantined).toMatch(/does not match type task/)
    expect(fast.entry).toEqual(loaded.entry)
    await expect(fast.db.get(Task, id)).rejects.toThrow(/does not match type task/)
  })

  it("is quarantined alike when its type is not a type name", async () => {
    const { id, bytes, machine } = await madeElsewhere()
    const [fast, loaded] = await bothWays(
      id,
      altered(bytes, root => (root.type = new A.ImmutableString("not a type!"))),
      machine,
    )
    expect(fast.entry!.quarantined).toBe("its type is not a valid type name")
    expect(fast.entry).toEqual(loaded.entry)
  })

  it("is not stored at all, either way, when it is of a type not asked for", async () => {
    const { id, bytes, machine } = await madeElsewhere()
    const [fast, loaded] = await bothWays(id, bytes, machine, type => type === "note")
    for (const side of [fast, loaded]) {
      expect(side.entries).toEqual([])
      expect(side.entry).toBeUndefined()
      expect(await side.db.replica.store.readStored(id)).toBeUndefined()
    }
  })

  it("is served by a peer as its first change, even right after it was made or read there", async () => {
    const { db } = await openDb({ types: [Task, Note] })
    const made = await db.create(Task, { title: "made here" })
    let inTx = ""
    await db.transaction(tx => {
      inTx = tx.create(Task, { title: "in a transaction" })
    })
    for (const id of [made.id, inTx]) {
      expect(readFirstChange((await db.replica.bytesFor(id, []))!)).toBeDefined()
      await db.get(Task, id)
      await db.list(Task)
      expect(readFirstChange((await db.replica.bytesFor(id, []))!)).toBeDefined()
    }
  })
})
