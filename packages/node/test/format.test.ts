import { cp, mkdtemp, rm } from "node:fs/promises"
import { readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { describedType, defineType, f } from "@cairn/core"
import { NodePeer } from "../src/index.js"

const Task = defineType("task", { fields: { title: f.string(), done: f.boolean().default(false), votes: f.counter() } })
const Note = defineType("note", { fields: { body: f.text().default(""), tags: f.list(f.string()) } })

/** A directory written before the catalog's compact records (see fixtures/make-format-1.mjs). */
const FIXTURE = new URL("./fixtures/format-1/", import.meta.url)
const ids = JSON.parse(readFileSync(new URL("./fixtures/format-1.ids.json", import.meta.url), "utf8")) as Record<string, string>

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function copyOfFixture(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-format-1-"))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  await cp(FIXTURE, dir, { recursive: true })
  return dir
}

/** Catalog entries of the app's types, not the schema documents that describe them. */
const appEntries = (peer: NodePeer) => [...peer.db.catalog.entries()].filter(entry => describedType(entry.type) === undefined).length

describe("a data directory written in the previous format (JSON catalog records, documents as Automerge document chunks)", () => {
  it("opens with its catalog as it was (not rebuilt), every document readable as written", async () => {
    const dir = await copyOfFixture()
    const peer = await NodePeer.open({ dir, types: [Task, Note] })
    cleanup.push(() => peer.close())
    expect(peer.db.repairs).toBeUndefined()
    // The old documents, and the two definitions the peer published as it opened (the old format had none).
    expect(appEntries(peer)).toBe(114)
    expect(peer.db.catalog.size).toBe(114 + 2)
    const first = await peer.db.get(Task, ids.first!)
    expect(first.data).toEqual({ title: "first", done: true, votes: 2 })
    expect((await peer.db.get(Note, ids.note!)).data).toEqual({ body: "hello world", tags: ["x"] })
    expect((await peer.db.get(Task, ids.deleted!)).deletedAt).toEqual(expect.any(Number))
    expect((await peer.db.get(Task, ids.late!)).data.title).toBe("after reopening")
    expect(await peer.db.list(Task)).toHaveLength(112)
    expect(await peer.db.verify()).toEqual([])
  })

  it("takes new writes beside the old records and opens again with both", async () => {
    const dir = await copyOfFixture()
    const peer = await NodePeer.open({ dir, types: [Task, Note] })
    await peer.db.change(Task, ids.late!, d => {
      d.done = true
    })
    const made = await peer.db.create(Note, { body: "new", tags: [] })
    await peer.db.transaction(tx => {
      for (let i = 0; i < 120; i++) tx.create(Task, { title: `more ${i}` })
    })
    await peer.close()
    const again = await NodePeer.open({ dir, types: [Task, Note] })
    cleanup.push(() => again.close())
    expect(again.db.repairs).toBeUndefined()
    expect(appEntries(again)).toBe(114 + 121)
    expect(again.db.catalog.size).toBe(114 + 121 + 2)
    expect((await again.db.get(Task, ids.late!)).data.done).toBe(true)
    expect((await again.db.get(Note, made.id)).data).toEqual({ body: "new", tags: [] })
    expect((await again.db.get(Task, ids.first!)).data.votes).toBe(2)
    expect(await again.db.list(Task)).toHaveLength(112 + 120)
    expect(await again.db.verify()).toEqual([])
  })
})
