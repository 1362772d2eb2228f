import { createServer } from "node:net"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { PgStore, PgStoreError } from "../src/storage/postgres/PgStore.js"
import { PgStorage } from "../src/storage/postgres/PgStorage.js"
import { freshSchema, POSTGRES_URL } from "./helpers/postgres.js"

/** A port nothing listens on (taken from the kernel, then released). */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1")
  await new Promise(resolve => server.once("listening", resolve))
  const port = (server.address() as { port: number }).port
  await new Promise(resolve => server.close(resolve))
  return port
}

describe("PgStore: errors that name the problem", () => {
  it("rejects a URL that is not PostgreSQL's, saying what it expects", async () => {
    await expect(PgStore.open("not a url")).rejects.toThrow(/not a PostgreSQL URL.*postgres:\/\/USER/)
    await expect(PgStore.open("http://example.com/db")).rejects.toThrow(PgStoreError)
    await expect(PgStore.open("postgres://u@127.0.0.1:5432")).rejects.toThrow(/names no database/)
    await expect(PgStore.open("postgres://u@127.0.0.1/db?sslmode=x")).rejects.toThrow(/option Cairn does not know: "sslmode"/)
    await expect(PgStore.open("postgres://u@127.0.0.1/db?schema=Bad-Name")).rejects.toThrow(/invalid schema name/)
  })

  it("says a refused connection is refused, naming the server", async () => {
    const port = await closedPort()
    const error = await PgStore.open(`postgres://u@127.0.0.1:${port}/db`).catch(e => e)
    expect(error).toBeInstanceOf(PgStoreError)
    expect(error.message).toBe(
      `cannot reach PostgreSQL at 127.0.0.1:${port}/db: connection refused (is the server running, on that host and port?)`,
    )
  })
})

describe.skipIf(!POSTGRES_URL)("PgStore on a real server", () => {
  const role = `cairn_pw_${process.pid}`
  const admin = () => new pg.Client({ connectionString: POSTGRES_URL })
  afterAll(async () => {
    const client = admin()
    await client.connect()
    await client.query(`DROP ROLE IF EXISTS ${role}`)
    await client.end()
  })

  it("says a wrong password is wrong, and a missing one is missing", async () => {
    const client = admin()
    await client.connect()
    await client.query(`CREATE ROLE ${role} LOGIN PASSWORD 'right'`)
    await client.end()
    const url = new URL(POSTGRES_URL!)
    url.username = role
    url.password = "wrong"
    const wrong = await PgStore.open(url.toString()).catch(e => e)
    expect(wrong).toBeInstanceOf(PgStoreError)
    expect(wrong.message).toMatch(new RegExp(`refused the password for user "${role}"`))
    url.password = ""
    await expect(PgStore.open(url.toString())).rejects.toThrow(/asks user .* for a password and the URL gives none/)
  })

  it("says a missing database is missing", async () => {
    const url = new URL(POSTGRES_URL!)
    url.pathname = "/no_such_database"
    await expect(PgStore.open(url.toString())).rejects.toThrow(/has no such database.*createdb/)
  })

  it("saves a batch as one SQL transaction: a chunk the server refuses leaves none of the batch stored", async () => {
    const { url, drop } = freshSchema()
    const storage = new PgStorage(await PgStore.open(url))
    try {
      const good = Array.from({ length: 5 }, (_, i) => ({ key: [`doc${i}`, "incremental", "h"], data: new Uint8Array([i]) }))
      // PostgreSQL's text cannot hold NUL: the server, not our checks, rejects the last chunk.
      await expect(storage.saveBatch([...good, { key: ["doc\u0000", "incremental", "h"], data: new Uint8Array([9]) }])).rejects.toThrow()
      expect(await storage.loadRange([])).toEqual([])
      await storage.saveBatch(good)
      expect((await storage.loadRange([])).length).toBe(5)
    } finally {
      await storage.close()
      await drop()
    }
  })

  it("numbers batches in commit order across processes and notifies each on commit; a batch rolled back gets no number and no notification", async () => {
    const { url, drop } = freshSchema()
    const [one, two] = [new PgStorage(await PgStore.open(url)), new PgStorage(await PgStore.open(url))]
    const listener = await one.store.dedicatedClient()
    const notified: number[] = []
    listener.on("notification", message => notified.push(Number(message.payload)))
    await listener.query(`LISTEN ${one.store.channel}`)
    try {
      const writes = Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? one : two).saveBatch([{ key: [`doc${i}`, "snapshot", "h"], data: new Uint8Array([i]) }]),
      )
      await Promise.all(writes)
      // A batch the server refuses (a NUL byte in a key) is rolled back whole: no number, no notification.
      await expect(one.saveBatch([{ key: ["bad\u0000key"], data: new Uint8Array([1]) }])).rejects.toThrow()
      const { rows } = await one.store.query<{ head: string; seq: string }>(
        `SELECT head, seq FROM ${one.store.table("chunks")} ORDER BY seq`,
      )
      expect(rows.map(row => Number(row.seq))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      expect((await one.sequence()).seq).toBe(20)
      await expect.poll(() => notified.length).toBe(20)
      expect([...notified].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      const { rows: committed, upTo } = await two.committedSince(15, 100)
      expect(upTo).toBe(20)
      expect(committed.map(row => row.seq)).toEqual([16, 17, 18, 19, 20])
      // `own`: written by the storage that asks (two wrote the even documents).
      for (const row of committed) expect(row.own).toBe(Number(String(row.key[0]).slice(3)) % 2 === 0)
    } finally {
      await listener.end()
      await Promise.all([one.close(), two.close()])
      await drop()
    }
  })

  it("creates its schema once when several processes open it at the same moment", async () => {
    const { url, drop } = freshSchema()
    const stores = await Promise.all(Array.from({ length: 4 }, () => PgStore.open(url, { maxConnections: 1 })))
    const storages = stores.map(store => new PgStorage(store))
    await storages[0]!.save(["doc", "snapshot", "h"], new Uint8Array([1]))
    expect(await storages[3]!.load(["doc", "snapshot", "h"])).toEqual(new Uint8Array([1]))
    await Promise.all(storages.map(storage => storage.close()))
    await drop()
  })

  it("opens while another process is inside a batch, without a deadlock for either", async () => {
    const { url, drop } = freshSchema()
    const first = await PgStore.open(url, { maxConnections: 1 })
    const batch = await first.dedicatedClient()
    try {
      // A batch as PgStorage.saveBatch makes one: its number taken (the sequence row locked), its chunks not yet written.
      await batch.query(`BEGIN; UPDATE ${first.table("sequence")} SET seq = seq + 1`)
      const opening = PgStore.open(url, { maxConnections: 1 })
      await expect
        .poll(async () => {
          const { rows } = await first.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%cairn schema%'",
          )
          return rows[0]!.n
        })
        .toBe(1)
      // The batch writes its chunks and commits while the other process waits to open.
      await batch.query(`INSERT INTO ${first.table("chunks")} (key, data) VALUES ('{doc,snapshot,h}', '\\x01'); COMMIT`)
      const second = await opening
      expect((await second.query(`SELECT count(*)::int AS n FROM ${second.table("chunks")}`)).rows[0]!.n).toBe(1)
      await second.close()
    } finally {
      await batch.end()
      await first.close()
      await drop()
    }
  })
})
