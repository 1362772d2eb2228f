/**
 * `cairn serve --relay --store postgres://…`: relay processes (separate OS
 * processes, each with a directory of its own for its lock and socket) over
 * one PostgreSQL store share one identity and one set of documents.
 */
import { afterAll, describe, expect, it } from "vitest"
import { freshSchema, POSTGRES_URL } from "../../node/test/helpers/postgres.js"
import { Dirs, cairn, json, startServe } from "./helpers.js"

const dirs = new Dirs()
afterAll(() => dirs.cleanup())

describe.skipIf(!POSTGRES_URL)("cairn serve --store (PostgreSQL)", () => {
  it("processes on one store are one relay: one identity, and a process started later serves what another stored", async () => {
    const store = freshSchema()
    const relayDirs = [await dirs.make(), await dirs.make(), await dirs.make()]
    const relay = (i: number) => startServe(["--data", relayDirs[i]!], ["--relay", "--open", "--store", store.url])
    const [first, second] = await Promise.all([relay(0), relay(1)])
    try {
      // Started at the same moment, they still agree on one identity (the first insert wins, both read it).
      const identities = await Promise.all([0, 1].map(i => json(["--data", relayDirs[i]!, "whoami"])))
      expect(identities[1]).toEqual(identities[0])

      const client = ["--data", await dirs.make()]
      const created = await json([...client, "create", "task", '{"title": "through relay 1"}'])
      expect(await json([...client, "sync", first.url])).toMatchObject({ sent: 1, documents: 1 })
      await first.stop()

      // Relay 1's process is gone; a new process reads the document from PostgreSQL, not from relay 1's directory.
      const third = await relay(2)
      try {
        expect(await json(["--data", relayDirs[2]!, "whoami"])).toEqual(identities[0])
        const other = ["--data", await dirs.make()]
        expect(await json([...other, "sync", third.url])).toMatchObject({ received: 1, documents: 1 })
        expect((await json([...other, "get", created.id])).data.title).toBe("through relay 1")
      } finally {
        await third.stop()
      }
    } finally {
      await Promise.all([first.stop(), second.stop()])
      await store.drop()
    }
  })

  it("says what is wrong with a store it cannot use, in one line", async () => {
    const run = await cairn(["--data", await dirs.make(), "serve", "--relay", "--store", "mysql://x@127.0.0.1/db", "--port", "0"])
    expect(run.code).not.toBe(0)
    expect(run.stderr.trim()).toBe('cairn: not a PostgreSQL URL: "mysql:" (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)')
  })
})
