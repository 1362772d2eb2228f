import { describe, expect, it } from "vitest"
import { defineType, f } from "@cairn/core"
import { served } from "./served.js"

const Task = defineType("task", {
  fields: {
    title: f.string(),
    votes: f.counter(),
    notes: f.text().default(""),
    tags: f.list(f.string()),
    place: f.map({ city: f.string(), floor: f.number().optional() }).optional(),
  },
})

async function withTask() {
  const dashboard = await served({}, [Task])
  const { db } = dashboard.peer
  const doc = await db.create(Task, { title: "Paint", votes: 1, notes: "Blue walls", tags: ["home"] }, { message: "created" })
  const history = async (id: string, query = "") => {
    const answer = await dashboard.call("GET", `/api/docs/${id}/history${query}`)
    if (answer.status !== 200) throw new Error(`${answer.status}: ${answer.json?.error}`)
    return answer.json
  }
  return { ...dashboard, db, id: doc.id, history }
}

describe("GET /api/docs/:id/history: what each change did", () => {
  it("diffs a register, a counter, text, a list and a map, one change at a time, newest first", async () => {
    const { db, id, history, peer } = await withTask()
    await db.change(Task, id, d => (d.title = "Paint the hall"), { message: "rename" })
    await db.change(Task, id, d => d.votes.increment(4), { message: "vote" })
    await db.change(Task, id, d => d.votes.decrement(2))
    await db.change(Task, id, d => d.notes.splice(0, 4, "Green"), { message: "colour" })
    await db.change(Task, id, d => d.tags.push("weekend"), { message: "tag" })
    await db.change(Task, id, d => (d.place = { city: "Oslo" }), { message: "place" })
    await db.change(Task, id, d => (d.place!.floor = 2), { message: "floor" })
    await db.change(Task, id, d => delete d.place, { message: "unplace" })

    const page = await history(id)
    expect(page.total).toBe(9)
    expect(page.changes.map((c: any) => c.message)).toEqual([
      "unplace",
      "floor",
      "place",
      "tag",
      "colour",
      null,
      "vote",
      "rename",
      "created",
    ])
    const diff = (message: string | null) => page.changes.find((c: any) => c.message === message).diff
    expect(diff("rename")).toEqual([{ path: ["title"], kind: "register", change: "changed", before: "Paint", after: "Paint the hall" }])
    expect(diff("vote")).toEqual([{ path: ["votes"], kind: "counter", change: "changed", before: 1, after: 5, by: 4 }])
    expect(diff(null)).toEqual([{ path: ["votes"], kind: "counter", change: "changed", before: 5, after: 3, by: -2 }])
    expect(diff("colour")).toEqual([
      {
        path: ["notes"],
        kind: "text",
        change: "changed",
        before: "Blue walls",
        after: "Green walls",
        text: { at: 0, deleted: "Blue", inserted: "Green" },
      },
    ])
    expect(diff("tag")).toEqual([{ path: ["tags"], kind: "list", change: "changed", before: ["home"], after: ["home", "weekend"] }])
    expect(diff("place")).toEqual([{ path: ["place"], kind: "map", change: "added", after: { city: "Oslo" } }])
    // A field inside a map is named by its whole path.
    expect(diff("floor")).toEqual([{ path: ["place", "floor"], kind: "register", change: "added", after: 2 }])
    expect(diff("unplace")).toEqual([{ path: ["place"], kind: "map", change: "removed", before: { city: "Oslo", floor: 2 } }])
    // The first change adds every field it wrote.
    expect(diff("created").map((d: any) => [d.path.join("."), d.change, d.kind])).toEqual(
      expect.arrayContaining([
        ["title", "added", "register"],
        ["votes", "added", "counter"],
        ["notes", "added", "text"],
        ["tags", "added", "list"],
      ]),
    )
    // Each change names its machine, by name where the peer knows one.
    expect(page.changes[0].machineId).toBe(peer.machineId)
  })

  it("pages a long history, diffing only the changes asked for", async () => {
    const { db, id, history } = await withTask()
    for (let n = 0; n < 60; n++) await db.change(Task, id, d => d.votes.increment(), { message: `vote ${n}` })
    const first = await history(id, "?limit=10")
    expect(first.total).toBe(61)
    expect(first.changes.map((c: any) => c.message)).toEqual(Array.from({ length: 10 }, (_, i) => `vote ${59 - i}`))
    const last = await history(id, "?offset=60&limit=10")
    expect(last.changes.map((c: any) => c.message)).toEqual(["created"])
    expect(last.changes[0].diff.length).toBeGreaterThan(0)
    expect((await history(id, "?offset=61")).changes).toEqual([])
    expect((await history(id, "?offset=55&limit=10")).changes.map((c: any) => c.message)).toEqual([
      "vote 4",
      "vote 3",
      "vote 2",
      "vote 1",
      "vote 0",
      "created",
    ])
    // A change arriving after a page was read shows on the next.
    await db.change(Task, id, d => d.votes.increment(), { message: "one more" })
    const again = await history(id, "?limit=2")
    expect(again.total).toBe(62)
    expect(again.changes.map((c: any) => c.message)).toEqual(["one more", "vote 59"])
    expect(again.changes[1].diff).toEqual(first.changes[0].diff)
    expect(await db.history(id)).toHaveLength(62)
  })

  it("answers the document as it was at a change, and refuses an unknown change or document", async () => {
    const { db, id, call } = await withTask()
    await db.change(Task, id, d => (d.title = "Paint the hall"), { message: "rename" })
    const [created] = await db.history(id)
    const then = await call("GET", `/api/docs/${id}/at/${created!.hash}`)
    expect(then.status).toBe(200)
    expect(then.json.document.data.title).toBe("Paint")
    expect(then.json.change).toMatchObject({ hash: created!.hash, message: "created" })
    expect((await db.get(id)).data.title).toBe("Paint the hall")
    expect((await call("GET", `/api/docs/${id}/at/${"0".repeat(64)}`)).status).toBe(404)
    expect((await call("GET", `/api/docs/${id}/at/nothex`)).status).toBe(404)
    expect((await call("GET", `/api/docs/nosuchdoc/history`)).status).toBe(404)
    expect((await call("GET", `/api/docs/${id}/history?limit=500`)).json.error).toMatch(/"limit" must be a whole number from 1 to 200/)
  })

  it("restores one field from an old version as a new change that says so, leaving the other fields", async () => {
    const { db, id, call } = await withTask()
    await db.change(
      Task,
      id,
      d => {
        d.title = "Paint the hall"
        d.notes.splice(0, 4, "Green")
        d.votes.increment(9)
      },
      { message: "everything" },
    )
    const [created] = await db.history(id)
    const restored = await call("POST", `/api/docs/${id}/restore`, { hash: created!.hash, path: ["notes"] })
    expect(restored.status).toBe(200)
    expect(restored.json.document.data).toMatchObject({ title: "Paint the hall", notes: { $text: "Blue walls" }, votes: { $counter: 10 } })
    await call("POST", `/api/docs/${id}/restore`, { hash: created!.hash, path: ["votes"] })
    const now = await db.get(id)
    expect(now.data).toMatchObject({ title: "Paint the hall", notes: "Blue walls", votes: 1 })
    const messages = (await db.history(id)).map(h => h.message)
    expect(messages.slice(-2)).toEqual([
      `restored notes from ${created!.hash.slice(0, 8)}`,
      `restored votes from ${created!.hash.slice(0, 8)}`,
    ])

    expect((await call("POST", `/api/docs/${id}/restore`, { path: ["notes"] })).json.error).toMatch(/send \{"hash"/)
    expect((await call("POST", `/api/docs/${id}/restore`, { hash: created!.hash, path: [] })).status).toBe(400)
    expect((await call("POST", `/api/docs/${id}/restore`, { hash: "f".repeat(64), path: ["notes"] })).status).toBe(404)
    expect(await db.history(id)).toHaveLength(4)
  })
})
