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

  it("a storage fenced by a writer lock refuses every write once that lock's session is gone, and a standby gets the lock", async () => {
    const { url, drop } = freshSchema()
    const [writerStore, standbyStore] = [await PgStore.open(url), await PgStore.open(url)]
    const storage = new PgStorage(writerStore)
    let lost = ""
    const lock = await writerStore.holdWriterLock(
      () => {},
      reason => (lost = reason),
    )
    storage.fence(lock)
    let waited = false
    const standby = standbyStore.holdWriterLock(
      () => (waited = true),
      () => {},
    )
    try {
      await storage.save(["doc", "snapshot", "a"], new Uint8Array([1]))
      await expect.poll(() => waited).toBe(true)
      await writerStore.query("SELECT pg_terminate_backend($1)", [lock.pid])
      await (await standby).release()
      for (const write of [
        () => storage.save(["doc", "snapshot", "b"], new Uint8Array([2])),
        () => storage.remove(["doc", "snapshot", "a"]),
        () => storage.removeRange(["doc"]),
      ])
        await expect(write()).rejects.toThrow(/no longer holds the store at .*: write refused/)
      expect((await storage.loadRange(["doc"])).map(chunk => chunk.key)).toEqual([["doc", "snapshot", "a"]])
      await expect.poll(() => lost).toMatch(/PostgreSQL/)
    } finally {
      await storage.close()
      await standbyStore.close()
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
})
