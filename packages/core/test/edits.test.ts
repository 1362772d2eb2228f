import { describe, expect, it } from "vitest"
import { applyEdit, defineType, EditError, f, KindChangeError, type Edit } from "../src/index.js"
import { openDb } from "./helpers.js"

const Task = defineType("task", {
  fields: {
    title: f.string(),
    votes: f.counter(),
    notes: f.text().default(""),
    tags: f.list(f.string()),
    meta: f.map({ owner: f.string().optional() }),
  },
})

async function withTask() {
  const { db } = await openDb({ types: [Task] })
  const task = await db.create(Task, { title: "a", votes: 0, tags: ["x"], meta: {} })
  const fields = Task.toJSON().fields
  const edit = (e: Edit, withFields = true) => db.change(Task, task.id, draft => applyEdit(draft, e, withFields ? fields : undefined))
  return { db, task, edit }
}

describe("applyEdit", () => {
  it("sets, increments, splices and replaces along a path, converting tagged JSON to the declared kind", async () => {
    const { edit } = await withTask()
    await edit({ op: "set", path: ["title"], value: "b" })
    await edit({ op: "incr", path: ["votes"], by: 3 })
    await edit({ op: "splice", path: ["notes"], index: 0, del: 0, text: "hello" })
    await edit({ op: "set", path: ["tags", 1], value: "y" })
    await edit({ op: "set", path: ["meta", "owner"], value: "me" })
    const done = await edit({ op: "settext", path: ["notes"], text: "bye" })
    expect(done.data).toEqual({ title: "b", votes: 3, notes: "bye", tags: ["x", "y"], meta: { owner: "me" } })
    const removed = await edit({ op: "unset", path: ["tags", 0] })
    expect(removed.data.tags).toEqual(["y"])
  })

  it("names what is wrong with a path, in the same words for every caller, and changes nothing", async () => {
    const { db, task, edit } = await withTask()
    const cases: [Edit, RegExp][] = [
      [{ op: "incr", path: ["title"], by: 1 }, /^title is not a counter \(it is a register holding "a"\)$/],
      [{ op: "splice", path: ["votes"], index: 0, del: 0, text: "x" }, /^votes is not text \(it is a counter\)$/],
      [{ op: "settext", path: ["missing", "deep"], text: "x" }, /^nothing to edit at missing: there is no value there$/],
      [{ op: "set", path: ["notes", 0], value: "x" }, /^notes is text, not a map or list$/],
      [{ op: "set", path: ["title", "a"], value: 1 }, /^title is a register, not a map or list$/],
      [{ op: "set", path: ["tags", "k"], value: 1 }, /^tags is a list: the last step of the path must be an index$/],
      [{ op: "unset", path: ["meta", "nobody"] }, /^nothing at meta\.nobody$/],
      [{ op: "set", path: [], value: 1 }, /needs a path/],
    ]
    for (const [bad, message] of cases) {
      const error = await edit(bad).catch(e => e)
      expect(error, JSON.stringify(bad)).toBeInstanceOf(EditError)
      expect(error.message, JSON.stringify(bad)).toMatch(message)
    }
    await expect(edit({ op: "set", path: ["tags", 5], value: "z" })).rejects.toThrow(/list index 5 is out of range \(length 1\)/)
    expect((await db.get(Task, task.id)).data).toEqual(task.data)
  })

  it("refuses a kind change where no definition declares the field, unless forced", async () => {
    const { db } = await openDb()
    const note = await db.create("note", { votes: { $counter: 0 } })
    const edit = (e: Edit) => db.change("note", note.id, draft => applyEdit(draft, e))
    await expect(edit({ op: "set", path: ["votes"], value: "many" })).rejects.toBeInstanceOf(KindChangeError)
    expect((await db.get(note.id)).data).toEqual({ votes: 0 })
    await edit({ op: "set", path: ["votes"], value: "many", force: true })
    expect((await db.get(note.id)).data).toEqual({ votes: "many" })
  })
})
