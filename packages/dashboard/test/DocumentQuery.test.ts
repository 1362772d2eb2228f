import { describe, expect, it } from "vitest"
import { defineType, f } from "@cairn/core"
import type { DashboardOptions } from "../src/index.js"
import { served } from "./served.js"

const Task = defineType("task", {
  fields: { title: f.string(), priority: f.number().optional(), notes: f.text().default(""), owner: f.string().default("ann") },
})

/** A dashboard whose peer has `count` tasks: title "task N", priority N % 5 (none for every seventh), notes on a few. */
async function withTasks(count: number, options: DashboardOptions = {}) {
  const dashboard = await served(options, [Task])
  const { db } = dashboard.peer
  for (let start = 0; start < count; start += 500)
    await db.transaction(tx => {
      for (let n = start; n < Math.min(count, start + 500); n++)
        tx.create(Task, {
          title: `task ${n}`,
          ...(n % 7 === 0 ? {} : { priority: n % 5 }),
          notes: n === 150 ? "Call the Plumber about the leak" : "",
          owner: n % 2 ? "bob" : "ann",
        })
    })
  const list = async (query: string) => {
    const answer = await dashboard.call("GET", `/api/docs?type=task&${query}`)
    if (answer.status !== 200) throw new Error(`${answer.status}: ${answer.json?.error}`)
    return answer.json
  }
  return { ...dashboard, list }
}

describe("GET /api/docs: search, filter, sort and pages", () => {
  it("finds one document by text in any string, ignoring case, and says how many match", async () => {
    const { list } = await withTasks(200)
    const found = await list(`q=${encodeURIComponent("plumber")}`)
    expect(found.total).toBe(1)
    expect(found.docs.map((d: any) => d.summary)).toEqual(["task 150"])
    // A title is searched as well as text; "task 12" is in task 12 and 120–129.
    expect((await list("q=TASK%2012&limit=1")).total).toBe(1 + 10)
    expect((await list("q=nowhere")).total).toBe(0)
  })

  it("filters with the same where as db.query, comparisons too, and combines it with search", async () => {
    const { list, peer } = await withTasks(350)
    const bob = await list(`where=${encodeURIComponent(JSON.stringify({ owner: "bob" }))}&limit=5`)
    expect(bob.total).toBe(175)
    expect(bob.docs.every((d: any) => d.cells.owner === "bob")).toBe(true)
    const where = { owner: "bob", priority: { $gte: 3 } }
    const high = await list(`where=${encodeURIComponent(JSON.stringify(where))}&limit=5000`)
    const expected = await peer.db.query(Task, { where })
    expect(high.total).toBe(expected.length)
    expect(new Set(high.docs.map((d: any) => d.id))).toEqual(new Set(expected.map(d => d.id)))
    expect((await list(`where=${encodeURIComponent(JSON.stringify(where))}&q=task%2069`)).docs.map((d: any) => d.summary)).toEqual(
      expect.arrayContaining(["task 69"]),
    )
  })

  it("pages through every match once, with the total on every page", async () => {
    const { list } = await withTasks(1050)
    const seen: string[] = []
    for (let offset = 0; offset < 1100; offset += 200) {
      const page = await list(`sort=id&offset=${offset}&limit=200`)
      expect(page.total).toBe(1050)
      expect(page.offset).toBe(offset)
      seen.push(...page.docs.map((d: any) => d.id))
    }
    expect(seen).toHaveLength(1050)
    expect(new Set(seen).size).toBe(1050)
    expect(seen).toEqual([...seen].sort())
    const last = await list("sort=id&offset=1000&limit=200")
    expect(last.docs).toHaveLength(50)
    expect((await list("offset=5000")).docs).toEqual([])
  })

  it("sorts by a field with missing values last either way, then by id; and by metadata columns", async () => {
    const { list } = await withTasks(50)
    const asc = await list("sort=priority&order=asc&limit=50")
    const priorities = asc.docs.map((d: any) => d.cells.priority ?? null)
    const present = priorities.filter((p: number | null) => p !== null)
    expect(present).toEqual([...present].sort((a: number, b: number) => a - b))
    expect(priorities.slice(present.length)).toEqual(Array(50 - present.length).fill(null))
    expect(50 - present.length).toBe(8)
    const desc = await list("sort=priority&order=desc&limit=50")
    const down = desc.docs.map((d: any) => d.cells.priority ?? null)
    expect(down.slice(0, present.length)).toEqual([...present].reverse())
    expect(down.slice(present.length).every((p: unknown) => p === null)).toBe(true)
    // Ties keep id order, so a page boundary never moves a document.
    const fours = asc.docs.filter((d: any) => d.cells.priority === 4).map((d: any) => d.id)
    expect(fours).toEqual([...fours].sort())

    const byTitle = await list("sort=title&order=desc&limit=3")
    expect(byTitle.docs.map((d: any) => d.summary)).toEqual(["task 9", "task 8", "task 7"])
    const oldest = await list("sort=createdAt&order=asc&limit=1")
    const newest = await list("sort=createdAt&limit=1")
    expect(oldest.docs[0].createdAt).toBeLessThanOrEqual(newest.docs[0].createdAt)
    expect(newest.order).toBe("desc")
  })

  it("sees a change, a new document and a delete made after the first request", async () => {
    const { list, peer } = await withTasks(20)
    expect((await list("q=renamed")).total).toBe(0)
    const [first] = (await list("sort=title&limit=1")).docs
    await peer.db.change(Task, first.id, d => (d.title = "renamed one"))
    await peer.db.create(Task, { title: "renamed two" })
    expect((await list("q=renamed&sort=title")).docs.map((d: any) => d.summary)).toEqual(["renamed one", "renamed two"])
    await peer.db.delete(first.id)
    expect((await list("q=renamed")).total).toBe(1)
    expect((await list("q=renamed&deleted=1")).total).toBe(2)
  })

  it("answers a search from the documents read so far while the index reads the rest, saying how far it is", async () => {
    const { list } = await withTasks(600, { indexWaitMs: 0 })
    const early = await list("q=task&limit=5")
    expect(early.indexing).toEqual({ read: expect.any(Number), of: 600 })
    expect(early.indexing.read).toBeLessThan(600)
    expect(early.total).toBe(early.indexing.read)
    let later = early
    for (let tries = 0; later.indexing && tries < 200; tries++) {
      await new Promise(resolve => setTimeout(resolve, 50))
      later = await list("q=task&limit=5")
    }
    expect(later.indexing).toBeUndefined()
    expect(later.total).toBe(600)
  })

  it("refuses bad input with a 400 that names what was wrong", async () => {
    const { call } = await withTasks(1)
    const refused = async (query: string) => {
      const answer = await call("GET", `/api/docs?${query}`)
      expect(answer.status).toBe(400)
      return answer.json.error as string
    }
    expect(await refused("type=task&where=%7Bowner")).toMatch(/"where" is not valid JSON/)
    expect(await refused(`type=task&where=${encodeURIComponent("[1,2]")}`)).toMatch(/"where" must be an object.*a list/)
    expect(await refused(`type=task&where=${encodeURIComponent('"bob"')}`)).toMatch(/"where" must be an object.*string/)
    expect(await refused(`type=task&where=${encodeURIComponent('{"priority":{"$near":3}}')}`)).toMatch(/unknown operator "\$near".*\$gte/)
    expect(await refused("type=task&sort=title..x")).toMatch(/"sort" must be id, createdAt, modifiedAt or a field path/)
    expect(await refused("type=task&sort=__proto__")).toMatch(/"sort"/)
    expect(await refused("type=task&order=up")).toMatch(/"order" must be "asc" or "desc"/)
    expect(await refused("type=task&offset=-1")).toMatch(/"offset" must be a whole number/)
    expect(await refused("type=task&limit=0")).toMatch(/"limit" must be a whole number from 1/)
    expect(await refused("type=task&limit=1.5")).toMatch(/"limit"/)
    expect(await refused("q=x")).toMatch(/say which type/)
  })
})
