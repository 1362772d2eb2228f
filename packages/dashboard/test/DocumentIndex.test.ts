import { describe, expect, it } from "vitest"
import { DocumentIndex } from "../src/DocumentIndex.js"
import { served } from "./served.js"

describe("DocumentIndex", () => {
  it("holds at most maxDocuments, dropping the least recently listed type, and never keeps a type larger than that", async () => {
    const { peer } = await served()
    const make = (type: string, count: number) =>
      peer.db.transaction(tx => {
        for (let n = 0; n < count; n++) tx.create(type, { title: `${type} ${n}` })
      })
    await make("a", 3)
    await make("b", 4)
    await make("big", 6)
    const index = new DocumentIndex(peer.db, 5)
    expect((await index.rows("a", false)).length).toBe(3)
    expect(index.size).toBe(3)
    expect((await index.rows("b", false)).length).toBe(4)
    expect(index.size).toBe(4)
    // A type over the bound is read in full and answered, but not kept.
    const big = await index.rows("big", false)
    expect(big.map(row => row.doc.summary).sort()).toEqual(Array.from({ length: 6 }, (_, n) => `big ${n}`).sort())
    expect(index.size).toBe(4)
    expect((await index.rows("a", false)).length).toBe(3)
    expect(index.size).toBe(3)
  })

  it("reads again only the documents whose heads changed, and drops those purged or quarantined", async () => {
    const { peer } = await served()
    const a = await peer.db.create("note", { title: "first", place: { city: "Hello There" } })
    const b = await peer.db.create("note", { title: "second" })
    const index = new DocumentIndex(peer.db)
    const before = await index.rows("note", false)
    const docOf = (rows: typeof before, id: string) => rows.find(row => row.entry.id === id)!.doc
    // Every string at any depth, in lower case.
    expect(docOf(before, a.id).text.split("\n").sort()).toEqual(["first", "hello there"])
    await peer.db.change("note", b.id, d => ((d as { title: string }).title = "second, edited"))
    const after = await index.rows("note", false)
    expect(docOf(after, a.id)).toBe(docOf(before, a.id))
    expect(docOf(after, b.id).summary).toBe("second, edited")
    await peer.db.delete(a.id)
    await peer.db.purge(a.id)
    expect((await index.rows("note", true)).map(row => row.entry.id)).toEqual([b.id])
  })
})
