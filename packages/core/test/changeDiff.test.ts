import { describe, expect, it } from "vitest"
import { defineType, f, UnknownChangeError } from "../src/index.js"
import { exchange, twoPeers } from "./helpers.js"

const Task = defineType("task", { fields: { title: f.string(), votes: f.counter(), notes: f.text().default("") } })

describe("Database.changeDiff", () => {
  it("shows only what one change did, even with a concurrent change on another machine merged around it", async () => {
    const { a, b } = await twoPeers([Task])
    const doc = await a.db.create(Task, { title: "Plan", votes: 0, notes: "Train" })
    await exchange(a.db, b.db, [doc.id])
    // Concurrently: a renames, b votes and writes notes; then both merge.
    await a.db.change(Task, doc.id, d => (d.title = "Plan the trip"), { message: "rename on a" })
    await b.db.change(
      Task,
      doc.id,
      d => {
        d.votes.increment(3)
        d.notes.splice(5, 0, " to Bergen")
      },
      { message: "vote on b" },
    )
    await exchange(a.db, b.db, [doc.id])
    const history = await a.db.history(doc.id)
    const hash = (message: string) => history.find(h => h.message === message)!.hash
    expect(await a.db.changeDiff(doc.id, hash("rename on a"))).toEqual([
      { path: ["title"], kind: "register", change: "changed", before: "Plan", after: "Plan the trip" },
    ])
    expect(await b.db.changeDiff(doc.id, hash("vote on b"))).toEqual([
      {
        path: ["notes"],
        kind: "text",
        change: "changed",
        before: "Train",
        after: "Train to Bergen",
        text: { at: 5, deleted: "", inserted: " to Bergen" },
      },
      { path: ["votes"], kind: "counter", change: "changed", before: 0, after: 3, by: 3 },
    ])
    // A change after the merge sees both branches before it.
    await a.db.change(Task, doc.id, d => d.votes.increment(), { message: "after the merge" })
    const [last] = (await a.db.history(doc.id)).slice(-1)
    expect(await a.db.changeDiff(doc.id, last!.hash)).toEqual([
      { path: ["votes"], kind: "counter", change: "changed", before: 3, after: 4, by: 1 },
    ])
    await expect(a.db.changeDiff(doc.id, "0".repeat(64))).rejects.toThrow(UnknownChangeError)
    await expect(a.db.changeDiff(doc.id, "not a hash")).rejects.toThrow(UnknownChangeError)
  })
})
