import { describe, expect, it } from "vitest"
import { DeletedDocumentError, defineType, f, NotFoundError, ValidationError, WrongTypeError, type Transaction } from "../src/index.js"
import { openDb, sleep, unknownId } from "./helpers.js"

const Account = defineType("account", { fields: { name: f.string(), balance: f.number(), log: f.list(f.string()) } })
const Note = defineType("note", { fields: { body: f.text() } })

async function accounts() {
  const { db, storage } = await openDb({ types: [Account, Note] })
  const a = await db.create(Account, { name: "a", balance: 100 })
  const b = await db.create(Account, { name: "b", balance: 0 })
  const c = await db.create(Account, { name: "c", balance: 5 })
  const ids = [a.id, b.id, c.id]
  /** Everything a failed transaction must leave untouched. */
  const state = async () => ({
    data: await Promise.all(ids.map(async id => (await db.get(id)).data)),
    heads: ids.map(id => db.catalog.get(id)!.heads),
    history: await Promise.all(ids.map(async id => (await db.history(id)).length)),
    size: db.catalog.size,
  })
  return { db, storage, ids, state }
}

const transfer = (tx: Transaction, from: string, to: string, amount: number) => {
  tx.change(Account, from, d => {
    d.balance -= amount
    d.log.push(`-${amount}`)
  })
  tx.change(Account, to, d => {
    d.balance += amount
    d.log.push(`+${amount}`)
  })
}

describe("Database.transaction", () => {
  it("changes several documents together", async () => {
    const { db, ids } = await accounts()
    const [a, b, c] = ids as [string, string, string]
    await db.transaction(tx => {
      transfer(tx, a, b, 30)
      transfer(tx, a, c, 20)
    })
    expect((await db.get(Account, a)).data).toEqual({ name: "a", balance: 50, log: ["-30", "-20"] })
    expect((await db.get(Account, b)).data).toEqual({ name: "b", balance: 30, log: ["+30"] })
    expect((await db.get(Account, c)).data).toEqual({ name: "c", balance: 25, log: ["+20"] })
    // One change per document, all at one time.
    const last = await Promise.all(ids.map(async id => (await db.history(id)).at(-1)!))
    expect(new Set(last.map(h => h.time)).size).toBe(1)
    for (const id of ids) expect(await db.history(id)).toHaveLength(2)
  })

  it("creates, changes and deletes in one transaction", async () => {
    const { db, ids } = await accounts()
    let created = ""
    await db.transaction(tx => {
      created = tx.create(Note, { body: "moved 5" })
      tx.change(Account, ids[0]!, d => (d.balance = 95))
      tx.delete(ids[2]!)
    })
    expect((await db.get(Note, created)).data.body).toBe("moved 5")
    expect((await db.get(Account, ids[0]!)).data.balance).toBe(95)
    expect((await db.get(ids[2]!)).deletedAt).not.toBeNull()
  })

  const failures: [string, (tx: Transaction, ids: string[]) => void, unknown][] = [
    ["one change is invalid", (tx, [a, b]) => {
      transfer(tx, a!, b!, 10)
      tx.change(Account, b!, d => ((d as { balance: unknown }).balance = "lots"))
    }, ValidationError],
    ["the last document's change is invalid", (tx, [a, b, c]) => {
      transfer(tx, a!, b!, 10)
      tx.change(Account, c!, d => d.log.push(5 as never))
    }, ValidationError],
    ["the first document's change is invalid", (tx, [a, b, c]) => {
      tx.change(Account, a!, d => ((d as Record<string, unknown>).unknown = 1))
      transfer(tx, b!, c!, 1)
    }, ValidationError],
    ["one document is of another type", (tx, [a, b, c]) => {
      transfer(tx, a!, b!, 10)
      tx.change(Note, c!, d => d.body.set("x"))
    }, WrongTypeError],
    ["one document is not here", (tx, [a, b]) => {
      transfer(tx, a!, b!, 10)
      tx.change(Account, unknownId(), d => (d.balance = 1))
    }, NotFoundError],
    ["a callback throws", (tx, [a, b, c]) => {
      transfer(tx, a!, b!, 10)
      tx.change(Account, c!, () => {
        throw new RangeError("app bug")
      })
    }, RangeError],
    ["a create is invalid", (tx, [a, b]) => {
      transfer(tx, a!, b!, 10)
      tx.create(Note, { body: 3 } as never)
    }, ValidationError],
  ]
  for (const [what, build, error] of failures) {
    it(`applies nothing when ${what}`, async () => {
      const { db, ids, state } = await accounts()
      const before = await state()
      await expect(db.transaction(tx => {
        tx.create(Note, { body: "would be created" })
        build(tx, ids)
      })).rejects.toThrow(error as typeof Error)
      await sleep(10)
      expect(await state()).toEqual(before)
      // And the documents still take changes afterwards.
      await db.transaction(tx => transfer(tx, ids[0]!, ids[1]!, 1))
      expect((await db.get(Account, ids[1]!)).data.balance).toBe(1)
    })
  }

  it("applies nothing when one document is deleted", async () => {
    const { db, ids, state } = await accounts()
    await db.delete(ids[2]!)
    const before = await state()
    await expect(db.transaction(tx => transfer(tx, ids[0]!, ids[2]!, 10))).rejects.toThrow(DeletedDocumentError)
    expect(await state()).toEqual(before)
  })

  it("lets a transaction restore a deleted document and change it", async () => {
    const { db, ids } = await accounts()
    await db.delete(ids[2]!)
    await db.transaction(tx => {
      tx.restore(ids[2]!)
      transfer(tx, ids[0]!, ids[2]!, 10)
    })
    const c = await db.get(Account, ids[2]!)
    expect(c.deletedAt).toBeNull()
    expect(c.data.balance).toBe(15)
  })
})
