/**
 * Two machines, each with its own Database and Repo, edit the same
 * documents while apart, then exchange their changes. Both must end with the
 * same document, merged as each field kind promises.
 */
import { describe, expect, it } from "vitest"
import { defineType, f, type Database } from "../src/index.js"
import { exchange, sendDocs, twoPeers } from "./helpers.js"

const Card = defineType("card", {
  fields: {
    title: f.string(),
    votes: f.counter(),
    body: f.text(),
    meta: f.map({ owner: f.string().optional(), colour: f.string().optional(), size: f.number().optional() }),
    scores: f.record(f.number()),
    tags: f.list(f.string()),
    done: f.boolean().default(false),
  },
})

/** Both databases hold the same new card. */
async function sharedCard() {
  const { a, b } = await twoPeers([Card])
  const card = await a.db.create(Card, { title: "start", votes: 10, body: "Hello world", tags: ["x"], scores: { ann: 1 } })
  await sendDocs(a.db, b.db, [card.id])
  return { a, b, id: card.id }
}

async function expectConverged(a: Database, b: Database, id: string) {
  const [left, right] = [await a.get(Card, id), await b.get(Card, id)]
  expect(JSON.stringify(left, null, 1)).toBe(JSON.stringify(right, null, 1))
  expect(a.catalog.get(id)!.heads).toEqual(b.catalog.get(id)!.heads)
  return left
}

describe("merging concurrent edits from two machines", () => {
  it("adds concurrent counter increments and decrements", async () => {
    const { a, b, id } = await sharedCard()
    await a.db.change(Card, id, d => d.votes.increment(5))
    await b.db.change(Card, id, d => {
      d.votes.increment(2)
      d.votes.decrement(1)
    })
    await exchange(a.db, b.db, [id])
    expect((await expectConverged(a.db, b.db, id)).data.votes).toBe(16)
  })

  it("merges concurrent text edits character by character", async () => {
    const { a, b, id } = await sharedCard()
    await a.db.change(Card, id, d => d.body.splice(0, 0, "Oh! "))
    await b.db.change(Card, id, d => d.body.splice(d.body.length, 0, "!!"))
    await b.db.change(Card, id, d => d.body.splice(6, 5, "there"))
    await exchange(a.db, b.db, [id])
    expect((await expectConverged(a.db, b.db, id)).data.body).toBe("Oh! Hello there!!")
  })

  it("keeps both machines' list inserts", async () => {
    const { a, b, id } = await sharedCard()
    await a.db.change(Card, id, d => d.tags.push("from-a"))
    await b.db.change(Card, id, d => {
      d.tags.insert(0, "first-from-b")
      d.tags.push("from-b")
    })
    await exchange(a.db, b.db, [id])
    const tags = (await expectConverged(a.db, b.db, id)).data.tags
    expect([...tags].sort()).toEqual(["first-from-b", "from-a", "from-b", "x"])
    expect(tags[0]).toBe("first-from-b")
    expect(tags.indexOf("x")).toBe(1)
  })

  it("merges map and record keys independently, deletes included", async () => {
    const { a, b, id } = await sharedCard()
    await a.db.change(Card, id, d => {
      d.meta.owner = "ann"
      d.scores.bob = 2
      delete d.scores.ann
    })
    await b.db.change(Card, id, d => {
      d.meta.colour = "red"
      d.meta.size = 3
      d.scores.cat = 3
    })
    await exchange(a.db, b.db, [id])
    const data = (await expectConverged(a.db, b.db, id)).data
    expect(data.meta).toEqual({ owner: "ann", colour: "red", size: 3 })
    expect(data.scores).toEqual({ bob: 2, cat: 3 })
  })

  it("picks one value for a register written on both, and shows both as conflicts", async () => {
    const { a, b, id } = await sharedCard()
    await a.db.change(Card, id, d => (d.title = "title from a"))
    await b.db.change(Card, id, d => {
      d.title = "title from b"
      d.done = true
    })
    await exchange(a.db, b.db, [id])
    const doc = await expectConverged(a.db, b.db, id)
    expect(["title from a", "title from b"]).toContain(doc.data.title)
    expect(doc.data.done).toBe(true)
    for (const db of [a.db, b.db]) {
      expect((await db.conflicts(id, ["title"])).sort()).toEqual(["title from a", "title from b"])
      expect(await db.conflicts(id, ["done"])).toEqual([true])
      expect(await db.conflicts(id, ["meta", "owner"])).toEqual([])
    }
    // A later write resolves the conflict everywhere.
    await a.db.change(Card, id, d => (d.title = "agreed"))
    await exchange(a.db, b.db, [id])
    expect(await b.db.conflicts(id, ["title"])).toEqual(["agreed"])
  })

  it("converges with every kind edited at once, and history names both machines", async () => {
    const { a, b, id } = await sharedCard()
    await a.db.change(Card, id, d => {
      d.title = "a"
      d.votes.increment()
      d.body.splice(0, 0, "A")
      d.tags.push("a")
      d.meta.owner = "a"
      d.scores.a = 1
    })
    await b.db.change(Card, id, d => {
      d.title = "b"
      d.votes.increment()
      d.body.splice(d.body.length, 0, "B")
      d.tags.push("b")
      d.meta.colour = "b"
      d.scores.b = 2
    })
    await exchange(a.db, b.db, [id])
    const doc = await expectConverged(a.db, b.db, id)
    expect(doc.data.votes).toBe(12)
    expect(doc.data.body).toBe("AHello worldB")
    expect([...doc.data.tags].sort()).toEqual(["a", "b", "x"])
    expect(doc.data.scores).toEqual({ ann: 1, a: 1, b: 2 })
    expect(doc.createdBy).toBe(a.machine.machineId)
    const machines = new Set((await b.db.history(id)).map(h => h.machineId))
    expect(machines).toEqual(new Set([a.machine.machineId, b.machine.machineId]))
  })

  it("merges a delete on one machine with an edit on the other", async () => {
    const { a, b, id } = await sharedCard()
    await a.db.delete(id)
    await b.db.change(Card, id, d => d.votes.increment())
    await exchange(a.db, b.db, [id])
    const doc = await expectConverged(a.db, b.db, id)
    expect(doc.deletedAt).not.toBeNull()
    expect(doc.data.votes).toBe(11)
    expect(await b.db.list(Card)).toEqual([])
  })
})
