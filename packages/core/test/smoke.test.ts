import { describe, expect, it } from "vitest"
import { defineType, f } from "../src/index.js"
import { openDb } from "./helpers.js"

const Task = defineType("task", {
  version: 1,
  fields: {
    title: f.string(),
    done: f.boolean().default(false),
    notes: f.text(),
    votes: f.counter(),
    tags: f.list(f.string()),
  },
})

describe("smoke", () => {
  it("creates, changes and reads", async () => {
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "Buy milk", notes: "two litres" })
    expect(doc.data).toEqual({ title: "Buy milk", done: false, notes: "two litres", votes: 0, tags: [] })
    const changed = await db.change(Task, doc.id, d => {
      d.title = "Buy oat milk"
      d.votes.increment(2)
      d.notes.splice(0, 3, "three")
      d.tags.push("shopping")
    })
    expect(changed.data).toEqual({ title: "Buy oat milk", done: false, notes: "three litres", votes: 2, tags: ["shopping"] })
    expect((await db.history(doc.id)).length).toBe(2)
  })
})
