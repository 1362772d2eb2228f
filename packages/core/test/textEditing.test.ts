import { readFileSync } from "node:fs"
import { gunzipSync } from "node:zlib"
import * as A from "@automerge/automerge"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { defineType, f, ValidationError } from "../src/index.js"
import { openDb } from "./helpers.js"

const Note = defineType("note", { fields: { title: f.string().default(""), body: f.text().default(""), tags: f.list(f.string()) } })

/** The first 3,000 transactions of the automerge-paper trace (see test/fixtures/editing-traces/README.md). */
const TRACE = new URL("../../../test/fixtures/editing-traces/automerge-paper-3000.json.gz", import.meta.url)
type Txn = { patches: [number, number, string][] }

async function newNote(body = "") {
  const { db, storage, machine } = await openDb({ types: [Note] })
  const { id } = await db.create(Note, { body, tags: [] })
  return { db, id, storage, machine }
}

describe("text editing through the typed draft", () => {
  it("gives the text raw Automerge gives on a real editing trace (its first 3,000 transactions)", async () => {
    const txns = (JSON.parse(gunzipSync(readFileSync(TRACE)).toString("utf8")).txns as Txn[]).slice(0, 3000)
    let raw = A.from({ text: "" })
    for (const txn of txns)
      raw = A.change(raw, d => {
        for (const [at, del, ins] of txn.patches) A.splice(d, ["text"], at, del, ins)
      })
    const { db, id } = await newNote()
    // As an editor does: many changes in flight at once, every one acknowledged.
    for (let from = 0; from < txns.length; from += 500)
      await Promise.all(
        txns.slice(from, from + 500).map(txn =>
          db.change(Note, id, d => {
            for (const [at, del, ins] of txn.patches) d.body.splice(at, del, ins)
          }),
        ),
      )
    expect((await db.get(Note, id)).data.body).toBe(raw.text)
    expect(raw.text.length).toBeGreaterThan(1000)
    // One Automerge change per db.change, as raw Automerge made one per transaction.
    expect((await db.history(id)).length).toBe(txns.length + 1)
  }, 60_000)

  it("matches a string model under random splices, in flight together or one by one, and reads what it wrote", async () => {
    const splice = fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), del: fc.nat(6), text: fc.string({ maxLength: 5 }) })
    const step = fc.record({ splices: fc.array(splice, { minLength: 1, maxLength: 3 }), wait: fc.boolean() })
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 20 }), fc.array(step, { minLength: 1, maxLength: 25 }), async (start, steps) => {
        const { db, id } = await newNote(start)
        let model = start
        const inFlight: Promise<unknown>[] = []
        for (const { splices, wait } of steps) {
          const planned = splices.map(({ at, del, text }) => {
            // `at` may be exactly 1: the end of the text, not one past it.
            const index = Math.min(model.length, Math.floor(at * (model.length + 1)))
            const count = Math.min(del, model.length - index)
            model = model.slice(0, index) + text + model.slice(index + count)
            return { index, count, text, after: model }
          })
          const change = db.change(Note, id, d => {
            for (const { index, count, text, after } of planned) {
              d.body.splice(index, count, text)
              // Read back inside the change, through a fresh draft and the same one: never a stale copy.
              expect(d.body.value).toBe(after)
              expect(d.body.length).toBe(after.length)
            }
          })
          if (wait) await change
          else inFlight.push(change)
        }
        await Promise.all(inFlight)
        expect((await db.get(Note, id)).data.body).toBe(model)
      }),
      { numRuns: 30 },
    )
  }, 60_000)

  it("refuses a splice outside the text with a RangeError and keeps the text as it was", async () => {
    const { db, id } = await newNote("abc")
    await expect(db.change(Note, id, d => d.body.splice(4, 0, "x"))).rejects.toThrow(/splice position 4 is outside the text \(length 3\)/)
    await expect(db.change(Note, id, d => d.body.splice(2, 2))).rejects.toThrow(/cannot delete 2 characters at 2/)
    await expect(db.change(Note, id, d => d.body.splice(-1, 0, "x"))).rejects.toThrow(RangeError)
    await expect(db.change(Note, id, d => d.body.splice(1.5, 0, "x"))).rejects.toThrow(RangeError)
    expect((await db.get(Note, id)).data.body).toBe("abc")
  })

  it("keeps text right when other reads and writes of the document come in the same change", async () => {
    const { db, id } = await newNote("hello")
    const doc = await db.change(Note, id, d => {
      // Object.keys and `in` ask Automerge's proxy for every value; a later splice must not leave them stale.
      expect(Object.keys(d).sort()).toEqual(["body", "tags", "title"])
      expect("body" in d).toBe(true)
      d.body.splice(5, 0, " world")
      const again = d.body
      d.title = "greeting"
      d.tags.push("a")
      again.splice(0, 1, "H")
      ;(d as Record<string, unknown>).body = "Hello, world"
      expect(d.body.value).toBe("Hello, world")
      d.body.splice(d.body.length, 0, "!")
    })
    expect(doc.data).toMatchObject({ title: "greeting", body: "Hello, world!", tags: ["a"] })
  })

  it("changes made together each stand alone: one that fails rejects alone, the rest apply in order", async () => {
    const { db, id } = await newNote("")
    const results = await Promise.allSettled([
      db.change(Note, id, d => d.body.splice(0, 0, "a")),
      db.change(Note, id, d => d.body.splice(99, 0, "never")),
      db.change(Note, id, d => {
        d.body.splice(1, 0, "b")
        ;(d as any).unknown = 1
      }),
      db.change(Note, id, d => d.body.splice(1, 0, "c")),
    ])
    expect(results.map(r => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"])
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(RangeError)
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(ValidationError)
    // The failed third change left nothing behind: its "b" was rolled back with it.
    expect((await db.get(Note, id)).data.body).toBe("ac")
    expect((await db.history(id)).length).toBe(3)
  })

  it("applies a transaction made between changes after the changes made before it", async () => {
    const { db, id } = await newNote("")
    const first = db.change(Note, id, d => d.body.splice(0, 0, "1"))
    const between = db.transaction(tx => tx.change(Note, id, d => d.body.splice(d.body.length, 0, "2")))
    const last = db.change(Note, id, d => d.body.splice(d.body.length, 0, "3"))
    await Promise.all([first, between, last])
    expect((await db.get(Note, id)).data.body).toBe("123")
  })

  it("resolves each change once it is on disk, with the document as it is then", async () => {
    const { db, id, storage, machine } = await newNote("")
    const docs = await Promise.all(["a", "b", "c"].map(char => db.change(Note, id, d => d.body.splice(d.body.length, 0, char))))
    expect(docs.map(doc => doc.data.body)).toEqual(["abc", "abc", "abc"])
    // What is stored, read by a database opened afresh on the same storage.
    const reopened = (await openDb({ types: [Note], storage, machine })).db
    expect((await reopened.get(Note, id)).data.body).toBe("abc")
  })
})
