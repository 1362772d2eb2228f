import { describe, expect, it } from "vitest"
import {
  DeletedDocumentError,
  defineType,
  f,
  NotFoundError,
  ValidationError,
  WrongTypeError,
  type Database,
  type Machine,
  type Transaction,
} from "../src/index.js"
import { MemoryStorage, openDb, sleep, unknownId, waitFor } from "./helpers.js"

const Account = defineType("account", { fields: { name: f.string(), balance: f.number(), log: f.list(f.string()) } })
const Note = defineType("note", { fields: { body: f.text() } })

/**
 * Three accounts. `large`: opened again on the same storage, so that none is
 * in memory, and `pad` adds enough creations to a transaction to make it a
 * large one (see Transaction.ts: written without repo handles).
 */
async function accounts(large = false) {
  const first = await openDb({ types: [Account, Note] })
  const a = await first.db.create(Account, { name: "a", balance: 100 })
  const b = await first.db.create(Account, { name: "b", balance: 0 })
  const c = await first.db.create(Account, { name: "c", balance: 5 })
  const ids = [a.id, b.id, c.id]
  const { db, storage } = large ? await openDb({ storage: first.storage, machine: first.machine, types: [Account, Note] }) : first
  const pad = (tx: Transaction) => {
    if (large) for (let i = 0; i < 150; i++) tx.create(Note, { body: `pad ${i}` })
  }
  /** Everything a failed transaction must leave untouched (and, with nothing in memory, every byte stored). */
  const state = async () => ({
    data: await Promise.all(ids.map(async id => (await db.get(id)).data)),
    heads: ids.map(id => db.catalog.get(id)!.heads),
    history: await Promise.all(ids.map(async id => (await db.history(id)).length)),
    size: db.catalog.size,
    stored: large ? [...storage.data.keys()].sort() : undefined,
  })
  return { db, storage, ids, state, pad }
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

describe.each([
  ["Database.transaction", false],
  ["Database.transaction, large (documents not in memory)", true],
])("%s", (_, large) => {
  it("changes several documents together", async () => {
    const { db, ids, pad } = await accounts(large)
    const [a, b, c] = ids as [string, string, string]
    await db.transaction(tx => {
      pad(tx)
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
    const { db, ids, pad } = await accounts(large)
    let created = ""
    await db.transaction(tx => {
      pad(tx)
      created = tx.create(Note, { body: "moved 5" })
      tx.change(Account, ids[0]!, d => (d.balance = 95))
      tx.delete(ids[2]!)
    })
    expect((await db.get(Note, created)).data.body).toBe("moved 5")
    expect((await db.get(Account, ids[0]!)).data.balance).toBe(95)
    expect((await db.get(ids[2]!)).deletedAt).not.toBeNull()
  })

  const failures: [string, (tx: Transaction, ids: string[]) => void, unknown][] = [
    [
      "one change is invalid",
      (tx, [a, b]) => {
        transfer(tx, a!, b!, 10)
        tx.change(Account, b!, d => ((d as { balance: unknown }).balance = "lots"))
      },
      ValidationError,
    ],
    [
      "the last document's change is invalid",
      (tx, [a, b, c]) => {
        transfer(tx, a!, b!, 10)
        tx.change(Account, c!, d => d.log.push(5 as never))
      },
      ValidationError,
    ],
    [
      "the first document's change is invalid",
      (tx, [a, b, c]) => {
        tx.change(Account, a!, d => ((d as Record<string, unknown>).unknown = 1))
        transfer(tx, b!, c!, 1)
      },
      ValidationError,
    ],
    [
      "one document is of another type",
      (tx, [a, b, c]) => {
        transfer(tx, a!, b!, 10)
        tx.change(Note, c!, d => d.body.set("x"))
      },
      WrongTypeError,
    ],
    [
      "one document is not here",
      (tx, [a, b]) => {
        transfer(tx, a!, b!, 10)
        tx.change(Account, unknownId(), d => (d.balance = 1))
      },
      NotFoundError,
    ],
    [
      "a callback throws",
      (tx, [a, b, c]) => {
        transfer(tx, a!, b!, 10)
        tx.change(Account, c!, () => {
          throw new RangeError("app bug")
        })
      },
      RangeError,
    ],
    [
      "a create is invalid",
      (tx, [a, b]) => {
        transfer(tx, a!, b!, 10)
        tx.create(Note, { body: 3 } as never)
      },
      ValidationError,
    ],
  ]
  for (const [what, build, error] of failures) {
    it(`applies nothing when ${what}`, async () => {
      const { db, ids, state, pad } = await accounts(large)
      const before = await state()
      await expect(
        db.transaction(tx => {
          pad(tx)
          tx.create(Note, { body: "would be created" })
          build(tx, ids)
        }),
      ).rejects.toThrow(error as typeof Error)
      await sleep(10)
      expect(await state()).toEqual(before)
      // And the documents still take changes afterwards.
      await db.transaction(tx => transfer(tx, ids[0]!, ids[1]!, 1))
      expect((await db.get(Account, ids[1]!)).data.balance).toBe(1)
    })
  }

  it("applies nothing when one document is deleted", async () => {
    const { db, ids, state, pad } = await accounts(large)
    await db.transaction(tx => {
      pad(tx)
      tx.delete(ids[2]!)
    })
    const before = await state()
    await expect(
      db.transaction(tx => {
        pad(tx)
        transfer(tx, ids[0]!, ids[2]!, 10)
      }),
    ).rejects.toThrow(DeletedDocumentError)
    expect(await state()).toEqual(before)
  })

  it("lets a transaction restore a deleted document and change it", async () => {
    const { db, ids, pad } = await accounts(large)
    await db.delete(ids[2]!)
    await db.transaction(tx => {
      pad(tx)
      tx.restore(ids[2]!)
      transfer(tx, ids[0]!, ids[2]!, 10)
    })
    const c = await db.get(Account, ids[2]!)
    expect(c.deletedAt).toBeNull()
    expect(c.data.balance).toBe(15)
  })
})

/** MemoryStorage that can hold back writes of incremental chunks (what a large transaction writes behind the repo) until released. */
class HeldStorage extends MemoryStorage {
  #held: Promise<void> | undefined
  #release = () => {}
  hold() {
    this.#held = new Promise(resolve => (this.#release = resolve))
  }
  release() {
    this.#held = undefined
    this.#release()
  }
  override async save(key: string[], value: Uint8Array) {
    if (key[1] === "incremental") await this.#held
    await super.save(key, value)
  }
}

describe("Database.transaction, large, before its writes are on disk", () => {
  it("is readable and changeable at once, and resolves only once it is on disk", async () => {
    const first = await openDb({ storage: new HeldStorage(), types: [Account, Note] })
    const [a, b] = await Promise.all([
      first.db.create(Account, { name: "a", balance: 100 }),
      first.db.create(Account, { name: "b", balance: 0 }),
    ])
    const storage = first.storage as HeldStorage
    const { db } = await openDb({ storage, machine: first.machine, types: [Account, Note] })
    storage.hold()
    let committed = false
    const committing = db
      .transaction(tx => {
        for (let i = 0; i < 150; i++) tx.create(Note, { body: `note ${i}` })
        transfer(tx, a.id, b.id, 10)
      })
      .then(() => void (committed = true))
    await waitFor(() => db.catalog.size === 152)
    expect((await db.get(Account, b.id)).data.balance).toBe(10)
    // A change loads the document into a repo handle, which must get the transaction's change too.
    const changing = db.change(Account, b.id, d => (d.balance += 1))
    await sleep(20)
    expect(committed).toBe(false)
    storage.release()
    await committing
    await changing
    const { db: reopened } = await openDb({ storage, machine: first.machine, types: [Account, Note] })
    expect((await reopened.get(Account, a.id)).data).toEqual({ name: "a", balance: 90, log: ["-10"] })
    expect((await reopened.get(Account, b.id)).data).toEqual({ name: "b", balance: 11, log: ["+10"] })
    expect((await reopened.list(Note)).length).toBe(150)
    expect(reopened.damaged()).toEqual([])
  })
})

/** MemoryStorage with its keys indexed by document: a 10,000-document test reads each document's range, which a scan of every key would make quadratic. */
class IndexedStorage extends MemoryStorage {
  readonly #byDocument = new Map<string, Set<string>>()
  override async save(key: string[], value: Uint8Array) {
    await super.save(key, value)
    let keys = this.#byDocument.get(key[0]!)
    if (!keys) this.#byDocument.set(key[0]!, (keys = new Set()))
    keys.add(key.join("\u0000"))
  }
  override async remove(key: string[]) {
    await super.remove(key)
    this.#byDocument.get(key[0]!)?.delete(key.join("\u0000"))
  }
  override async loadRange(prefix: string[]) {
    this.reads.push(prefix)
    const keys = [...(this.#byDocument.get(prefix[0]!) ?? [])].filter(k => prefix.every((part, i) => k.split("\u0000")[i] === part))
    return keys.map(k => ({ key: k.split("\u0000"), data: this.data.get(k) }))
  }
  override async removeRange(prefix: string[]) {
    for (const { key } of await this.loadRange(prefix)) await this.remove(key)
  }
  /** Another storage holding the same bytes. */
  async copy(): Promise<IndexedStorage> {
    const copy = new IndexedStorage()
    for (const [key, value] of this.data) await copy.save(key.split("\u0000"), value)
    return copy
  }
}

describe("Database.transaction of 10,000 documents", () => {
  const N = 10_000
  const Task = defineType("task", { fields: { title: f.string(), done: f.boolean(), rank: f.number() } })
  const task = (i: number) => ({ title: `task ${i}`, done: false, rank: i })
  /** Every 50th document and the last, by index: those read back (reading all 10,000 is the first test's, once). */
  const sample = [...Array(N / 50).keys()].map(i => i * 50).concat(N - 1)

  /** 10,000 tasks made by one transaction (the first test's), once; later tests each open a copy of its storage, with nothing in memory. */
  let made: Promise<{ db: Database; storage: IndexedStorage; machine: Machine; ids: string[] }> | undefined
  const create = () =>
    (made ??= (async () => {
      const storage = new IndexedStorage()
      const { db, machine } = await openDb({ storage, types: [Task] })
      let ids: string[] = []
      await db.transaction(tx => (ids = Array.from({ length: N }, (_, i) => tx.create(Task, task(i)))))
      return { db, storage, machine, ids }
    })())
  const reopen = async () => {
    const { storage, machine, ids } = await create()
    return { ...(await openDb({ storage: await storage.copy(), machine, types: [Task] })), ids }
  }

  it("creates them all in one transaction: each readable, all listed, and still there after reopening", async () => {
    const { db, ids } = await create()
    expect(new Set(ids).size).toBe(N)
    const listed = new Map((await db.list(Task)).map(doc => [doc.id, doc.data]))
    expect(listed.size).toBe(N)
    ids.forEach((id, i) => expect(listed.get(id)).toEqual(task(i)))
    const { db: reopened } = await reopen()
    expect(reopened.types()).toEqual([{ type: "task", count: N }])
    for (const i of sample) expect((await reopened.get(Task, ids[i]!)).data).toEqual(task(i))
    expect(reopened.damaged()).toEqual([])
  }, 120_000)

  it("changes them all in one transaction, those in memory and those only in storage alike", async () => {
    const { db, storage, machine, ids } = await reopen()
    // A few in memory (changed on their own first), the rest only in storage.
    for (const id of ids.slice(0, 3)) await db.change(Task, id, d => (d.rank += N))
    const before = ids.map(id => db.catalog.get(id)!.heads.join())
    await db.transaction(tx => ids.forEach(id => tx.change(Task, id, d => (d.done = true))))
    // Every one listed with new heads, all at one time (reading all 10,000 back is the first test's).
    const after = ids.map(id => db.catalog.get(id)!)
    after.forEach((entry, i) => expect(entry.heads.join()).not.toBe(before[i]))
    expect(new Set(after.map(entry => entry.modifiedAt)).size).toBe(1)
    for (const i of sample) expect((await db.get(Task, ids[i]!)).data.done).toBe(true)
    const { db: reopened } = await openDb({ storage, machine, types: [Task] })
    expect((await reopened.get(Task, ids[0]!)).data).toEqual({ ...task(0), done: true, rank: N })
    for (const i of sample) {
      expect((await reopened.get(Task, ids[i]!)).data.done).toBe(true)
      expect(await reopened.history(ids[i]!)).toHaveLength(i < 3 ? 3 : 2)
    }
    expect(reopened.damaged()).toEqual([])
  }, 120_000)

  it("applies nothing when the last of 10,000 parts is invalid", async () => {
    const { db, storage, ids } = await reopen()
    await db.change(Task, ids[0]!, d => (d.rank = -1))
    const before = { entries: ids.map(id => db.catalog.get(id)), size: db.catalog.size, stored: [...storage.data.keys()].sort() }
    await expect(
      db.transaction(tx => {
        for (let i = 0; i < 2_000; i++) tx.create(Task, task(N + i))
        ids.slice(0, N - 2_001).forEach(id => tx.change(Task, id, d => (d.done = true)))
        tx.change(Task, ids[N - 1]!, d => ((d as { rank: unknown }).rank = "last"))
      }),
    ).rejects.toThrow(ValidationError)
    await db.replica.flush()
    expect(ids.map(id => db.catalog.get(id))).toEqual(before.entries)
    expect(db.catalog.size).toBe(before.size)
    expect([...storage.data.keys()].sort()).toEqual(before.stored)
    expect(db.types()).toEqual([{ type: "task", count: N }])
    for (const i of sample) expect((await db.get(Task, ids[i]!)).data.done).toBe(false)
    // And they still take changes afterwards, the one in memory too.
    await db.transaction(tx => [ids[0]!, ids[N - 1]!].forEach(id => tx.change(Task, id, d => (d.done = true))))
    expect((await db.get(Task, ids[0]!)).data).toEqual({ ...task(0), done: true, rank: -1 })
    expect((await db.get(Task, ids[N - 1]!)).data.done).toBe(true)
  }, 120_000)
})
