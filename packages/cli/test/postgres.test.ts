/**
 * `cairn serve --relay --store postgres://…`: relay processes (separate OS
 * processes, each with a directory of its own for its lock and socket) over
 * one PostgreSQL store, serving at once with one identity, one trust list;
 * one killed, its clients finish through another. (What crosses between
 * them live: postgres.relays.test.ts.)
 */
import { stat } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { NodePeer, PgStore } from "@cairn/node"
import { freshSchema, POSTGRES_URL } from "../../node/test/helpers/postgres.js"
import { Dirs, cairn, json, until } from "./helpers.js"
import { relayProcess, stop } from "./relayProcess.js"

const dirs = new Dirs()
afterAll(() => dirs.cleanup())

describe.skipIf(!POSTGRES_URL)("cairn serve --store (PostgreSQL)", () => {
  it("both processes serve with one identity; one killed with SIGKILL mid-sync, the client finishes through the other and loses nothing", async () => {
    const store = freshSchema()
    const [dir1, dir2] = [await dirs.make(), await dirs.make()]
    const first = relayProcess(dir1, store.url)
    const second = relayProcess(dir2, store.url)
    const client = await NodePeer.open({ dir: await dirs.make(), localSocket: false })
    const db = await PgStore.open(store.url, { maxConnections: 1 })
    try {
      const [url1, url2] = await Promise.all([first.listening, second.listening])
      expect(await json(["--data", dir2, "whoami"])).toEqual(await json(["--data", dir1, "whoami"]))

      const N = 400
      const ids = new Set<string>()
      await client.db.transaction(tx => {
        for (let i = 0; i < N; i++) ids.add(tx.create("task", { title: `task ${i}` }))
      })
      client.connect(url1)
      // Killed once some documents reached PostgreSQL through it, and (checked below) before all had.
      const stored = async () =>
        Number((await db.query(`SELECT count(DISTINCT head) AS n FROM "${store.schema}".chunks WHERE head NOT LIKE 'cairn-%'`)).rows[0]?.n)
      await until(async () => (await stored()) > 0, 30_000)
      await stop(first.child, "SIGKILL")
      const atKill = await stored()
      expect(atKill, "the kill came after the whole sync: nothing was in flight").toBeLessThan(N)

      client.connect(url2)
      await client.whenSynced(60_000)

      // A fresh client of the relay now gets every document A wrote, from PostgreSQL through the second process.
      const reader = ["--data", await dirs.make()]
      expect(await json([...reader, "sync", url2])).toMatchObject({ documents: N })
      const listed = new Set((await json([...reader, "ls", "--type", "task"])).map((d: { id: string }) => d.id))
      expect([...ids].filter(id => !listed.has(id))).toEqual([])
    } finally {
      await client.close()
      await db.close()
      await Promise.all([stop(first.child), stop(second.child)])
      await store.drop()
    }
  })

  it("grants and type filtering come from the store: a trust given through one running process holds through the other at once", async () => {
    const store = freshSchema()
    const [dir1, dir2] = [await dirs.make(), await dirs.make()]
    const first = relayProcess(dir1, store.url, "trust")
    const second = relayProcess(dir2, store.url, "trust")
    try {
      // Both run before any trust is given: relay 2 learns of the trust given through relay 1 from PostgreSQL.
      const [url1, url2] = await Promise.all([first.listening, second.listening])
      const relayKey = (await json(["--data", dir1, "whoami"])).publicKey
      const machine = async (read: string, write: string) => {
        const data = ["--data", await dirs.make()]
        const { publicKey } = await json([...data, "whoami"])
        await json([...data, "trust", relayKey, "--read", "*", "--write", "*"])
        // Given through relay 1's socket, so kept in PostgreSQL.
        await json(["--data", dir1, "trust", publicKey, "--read", read, "--write", write])
        return data
      }
      const writer = await machine("*", "task")
      const reader = await machine("note", "note")
      await cairn([...writer, "create", "task", '{"title": "t"}'])
      await cairn([...writer, "create", "note", '{"body": "n"}'])
      // Its note is not taken: it may write tasks only.
      expect(await json([...writer, "sync", url1])).toMatchObject({ sent: 1 })

      // The relay's trust list, identity and grants are the store's: relay 2 still takes no note from the writer.
      expect(await json([...writer, "sync", url2])).toMatchObject({ sent: 0, received: 0 })
      // A machine given read "note" only is served notes only, which the writer could not store: nothing.
      expect(await json([...reader, "sync", url2])).toMatchObject({ received: 0, documents: 0 })
      await cairn([...reader, "create", "note", '{"body": "from the reader"}'])
      expect(await json([...reader, "sync", url2])).toMatchObject({ sent: 1 })
      // The writer reads everything: the task it wrote and the reader's note.
      expect(await json([...writer, "sync", url2])).toMatchObject({ received: 1 })
      // A machine the relay never trusted is refused by the process that took over.
      const stranger = ["--data", await dirs.make()]
      await json([...stranger, "trust", relayKey, "--read", "*", "--write", "*"])
      const refused = await cairn([...stranger, "sync", url2])
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toMatch(/not trusted|refused/)
      // A machine removed through relay 1 loses the connection it holds to relay 2 (the trust list is the store's,
      // and each process closes what it no longer admits when the list changes).
      const live = await NodePeer.open({ dir: await dirs.make(), localSocket: false })
      try {
        await live.trust.trust(relayKey, { read: "*", write: "*" })
        await json(["--data", dir1, "trust", live.db.machine.publicKey, "--read", "*", "--write", "*"])
        live.connect(url2)
        await live.whenSynced(30_000)
        await json(["--data", dir1, "untrust", live.db.machine.publicKey])
        await until(async () => live.network.clients()[0]?.status === "refused", 15_000)
        expect(live.network.clients()[0]?.refusal).toMatch(/not trusted here/)
      } finally {
        await live.close()
      }
    } finally {
      await Promise.all([stop(first.child), stop(second.child)])
      await store.drop()
    }
  })

  it("a command on a relay's directory while none of its processes runs acts on the store, not on the directory", async () => {
    const store = freshSchema()
    const [dir1, dir2] = [await dirs.make(), await dirs.make()]
    const first = relayProcess(dir1, store.url, "trust")
    let second: ReturnType<typeof relayProcess> | undefined
    try {
      await first.listening
      const relayKey = (await json(["--data", dir1, "whoami"])).publicKey
      await stop(first.child)
      // The URL may hold a password: the directory keeps it as it keeps the machine's key.
      expect((await stat(join(dir1, "store.json"))).mode & 0o777).toBe(0o600)

      // No relay process runs: before, this made the directory an identity and a trust list of its own.
      expect((await json(["--data", dir1, "whoami"])).publicKey).toBe(relayKey)
      const data = ["--data", await dirs.make()]
      const { publicKey } = await json([...data, "whoami"])
      await json([...data, "trust", relayKey, "--read", "*", "--write", "*"])
      await json(["--data", dir1, "trust", publicKey, "--read", "*", "--write", "task"])

      // Another process of the relay, with a directory of its own, admits the machine: the trust is the store's.
      second = relayProcess(dir2, store.url, "trust")
      await cairn([...data, "create", "task", '{"title": "t"}'])
      expect(await json([...data, "sync", await second.listening])).toMatchObject({ sent: 1 })
    } finally {
      await Promise.all([stop(first.child), second && stop(second.child)])
      await store.drop()
    }
  })

  it("says what is wrong with a store it cannot use, in one line", async () => {
    const run = await cairn(["--data", await dirs.make(), "serve", "--relay", "--store", "mysql://x@127.0.0.1/db", "--port", "0"])
    expect(run.code).not.toBe(0)
    expect(run.stderr.trim()).toBe('cairn: not a PostgreSQL URL: "mysql:" (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)')
  })
})
