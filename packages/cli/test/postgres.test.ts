/**
 * `cairn serve --relay --store postgres://…`: relay processes (separate OS
 * processes, each with a directory of its own for its lock and socket) over
 * one PostgreSQL store. One serves, the others wait as standbys with the same
 * identity and take over when it dies.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"
import { afterAll, describe, expect, it } from "vitest"
import { NodePeer, PgStore } from "@cairn/node"
import { freshSchema, POSTGRES_URL } from "../../node/test/helpers/postgres.js"
import { BIN, Dirs, cairn, json, until } from "./helpers.js"

const dirs = new Dirs()
afterAll(() => dirs.cleanup())

/** `cairn serve --relay --store URL` (`--open` unless `trust`) in a process of its own; `listening` resolves with its URL once it serves. */
function relayProcess(
  dir: string,
  store: string,
  auth: "open" | "trust" = "open",
): { child: ChildProcess; stderr: () => string; listening: Promise<string> } {
  const args = ["--data", dir, "serve", "--relay", ...(auth === "open" ? ["--open"] : []), "--store", store, "--port", "0"]
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let stderr = ""
  child.stderr!.on("data", text => (stderr += text))
  const listening = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", line => resolve(line.replace(/^listening on /, "")))
    child.once("exit", code => reject(new Error(`serve exited with ${code}: ${stderr}`)))
  })
  listening.catch(() => {})
  return { child, stderr: () => stderr, listening }
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once("exit", resolve))
  child.kill(signal)
  await exited
}

describe.skipIf(!POSTGRES_URL)("cairn serve --store (PostgreSQL)", () => {
  it("a second process is a standby with the same identity; killed with SIGKILL mid-sync, the first hands over and the client loses nothing", async () => {
    const store = freshSchema()
    const [dir1, dir2] = [await dirs.make(), await dirs.make()]
    const first = relayProcess(dir1, store.url)
    const second = relayProcess(dir2, store.url)
    const client = await NodePeer.open({ dir: await dirs.make(), localSocket: false })
    const db = await PgStore.open(store.url, { maxConnections: 1 })
    try {
      // Whichever started first serves; the other says it waits.
      const url1 = await Promise.race([first.listening, second.listening])
      const [active, standby] = (await Promise.race([first.listening.then(() => true), new Promise(r => setTimeout(r, 50, false))]))
        ? [first, second]
        : [second, first]
      await until(async () => standby.stderr().includes("waiting to take over"))
      const identity = await json(["--data", active === first ? dir1 : dir2, "whoami"])

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
      await stop(active.child, "SIGKILL")
      const atKill = await stored()
      expect(atKill, "the kill came after the whole sync: nothing was in flight").toBeLessThan(N)

      const url2 = await standby.listening
      expect(await json(["--data", standby === first ? dir1 : dir2, "whoami"])).toEqual(identity)
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

  it("grants and type filtering come from the store: a trust given through one process holds through the one that takes over", async () => {
    const store = freshSchema()
    const [dir1, dir2] = [await dirs.make(), await dirs.make()]
    const first = relayProcess(dir1, store.url, "trust")
    const url1 = await first.listening
    const second = relayProcess(dir2, store.url, "trust")
    try {
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

      await stop(first.child, "SIGKILL")
      const url2 = await second.listening
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
    } finally {
      await Promise.all([stop(first.child), stop(second.child)])
      await store.drop()
    }
  })

  it("stops serving, exit code 1, the moment its hold on the store breaks (another process may be writing)", async () => {
    const store = freshSchema()
    const relay = relayProcess(await dirs.make(), store.url)
    const db = await PgStore.open(store.url, { maxConnections: 1 })
    try {
      await relay.listening
      const exited = new Promise<number | null>(resolve => relay.child.once("exit", resolve))
      // The writer's lock lives with its session: end that session as a server restart or a network cut would.
      await db.query("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()")
      expect(await exited).toBe(1)
      expect(relay.stderr()).toMatch(/cairn: lost the store \(.*\); stopped serving, since another process may take over/)
    } finally {
      await stop(relay.child)
      await db.close()
      await store.drop()
    }
  })

  it("says what is wrong with a store it cannot use, in one line", async () => {
    const run = await cairn(["--data", await dirs.make(), "serve", "--relay", "--store", "mysql://x@127.0.0.1/db", "--port", "0"])
    expect(run.code).not.toBe(0)
    expect(run.stderr.trim()).toBe('cairn: not a PostgreSQL URL: "mysql:" (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)')
  })
})
