/**
 * Several `cairn serve --relay --store postgres://…` processes serving one
 * store at once, as one relay: a change written through one reaches the
 * clients of the others live (LISTEN/NOTIFY, then the rows read back), a
 * client's checkpoint means the same in every process, and concurrent
 * writes of one document through two processes both survive.
 */
import { createServer, connect, type Server } from "node:net"
import { afterAll, describe, expect, it } from "vitest"
import * as A from "@automerge/automerge"
import { NodePeer, PgStorage, PgStore } from "@cairn/node"
import { decodeEntryRow } from "../../core/src/catalog/sharedRows.js"
import { freshSchema, POSTGRES_URL } from "../../node/test/helpers/postgres.js"
import { Dirs, json, until } from "./helpers.js"
import { relayProcess, stop } from "./relayProcess.js"

const dirs = new Dirs()
afterAll(() => dirs.cleanup())

const client = async (dir?: string) => NodePeer.open({ dir: dir ?? (await dirs.make()), localSocket: false })

/** A TCP proxy on 127.0.0.1 in front of `target` (ws://127.0.0.1:PORT) that counts the bytes it carries, both ways. */
async function countingProxy(target: string): Promise<{ url: string; bytes: () => number; close: () => Promise<void> }> {
  const port = Number(new URL(target).port)
  let bytes = 0
  const sockets = new Set<import("node:net").Socket>()
  const server: Server = createServer(inbound => {
    const outbound = connect(port, "127.0.0.1")
    for (const socket of [inbound, outbound]) {
      sockets.add(socket)
      socket.on("data", data => (bytes += data.byteLength))
      socket.on("error", () => {})
      socket.on("close", () => {
        inbound.destroy()
        outbound.destroy()
      })
    }
    inbound.pipe(outbound)
    outbound.pipe(inbound)
  })
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve))
  const address = server.address() as import("node:net").AddressInfo
  return {
    url: `ws://127.0.0.1:${address.port}`,
    bytes: () => bytes,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    },
  }
}

describe.skipIf(!POSTGRES_URL)("several relay processes serving one PostgreSQL store at once", () => {
  it("a change through one reaches the other's client live; offline edits through both merge; one identity", async () => {
    const store = freshSchema()
    const [dir1, dir2] = [await dirs.make(), await dirs.make()]
    const [relay1, relay2] = [relayProcess(dir1, store.url), relayProcess(dir2, store.url)]
    const [dirA, dirB] = [await dirs.make(), await dirs.make()]
    let [a, b] = [await client(dirA), await client(dirB)]
    try {
      const [url1, url2] = await Promise.all([relay1.listening, relay2.listening])
      expect(await json(["--data", dir2, "whoami"])).toEqual(await json(["--data", dir1, "whoami"]))
      const id = await a.db.create("task", { title: "first" })
      a.connect(url1)
      b.connect(url2)
      // Written through relay 1, stored in PostgreSQL, taken up by relay 2 and offered to B.
      await until(async () => b.db.catalog.get(id.id) !== undefined)
      // B watches it: A's next edit is pushed to B over its open connection to relay 2.
      const seen: string[] = []
      const stopWatching = b.db.subscribe(id.id, doc => doc && seen.push(String(doc.data.title)))
      const started = Date.now()
      await a.db.change("task", id.id, draft => void (draft.title = "edited on A"))
      await until(async () => seen.includes("edited on A"))
      expect(Date.now() - started, "pushed, not found by polling").toBeLessThan(5_000)
      stopWatching()

      // Both go offline and edit the same document; each reconnects to its own relay process; both keep both.
      await Promise.all([a.close(), b.close()])
      ;[a, b] = [await client(dirA), await client(dirB)]
      await a.db.change("task", id.id, draft => void (draft.fromA = "a"))
      await b.db.change("task", id.id, draft => void (draft.fromB = "b"))
      a.connect(url1)
      b.connect(url2)
      for (const peer of [a, b])
        await until(async () => {
          const data = (await peer.db.get(id.id)).data
          return data.fromA === "a" && data.fromB === "b"
        })
    } finally {
      await Promise.all([a.close(), b.close()])
      await Promise.all([stop(relay1.child), stop(relay2.child)])
      await store.drop()
    }
  })

  it("a client that synced through one relay process and reconnects to another moves only what changed", async () => {
    const store = freshSchema()
    const [relay1, relay2] = [relayProcess(await dirs.make(), store.url), relayProcess(await dirs.make(), store.url)]
    const writer = await client()
    const readerDir = await dirs.make()
    try {
      const [url1, url2] = await Promise.all([relay1.listening, relay2.listening])
      const N = 300
      await writer.db.transaction(tx => {
        for (let i = 0; i < N; i++) tx.create("task", { title: `task ${i}`, body: "x".repeat(200) })
      })
      writer.connect(url1)
      await writer.whenSynced(30_000)

      const first = await countingProxy(url1)
      let reader = await client(readerDir)
      reader.connect(first.url)
      await until(async () => reader.db.catalog.size === N, 30_000)
      await reader.whenSynced(30_000)
      await reader.close()
      await first.close()
      const initial = first.bytes()

      const changed = [...writer.db.catalog.entries()].slice(0, 3).map(entry => entry.id)
      for (const id of changed) await writer.db.change("task", id, draft => void (draft.title = "changed"))
      await writer.whenSynced(30_000)

      // Through relay 2 this time: its checkpoint, taken from relay 1, means the same there.
      const second = await countingProxy(url2)
      reader = await client(readerDir)
      reader.connect(second.url)
      await until(async () => {
        for (const id of changed) if ((await reader.db.get(id)).data.title !== "changed") return false
        return true
      }, 30_000)
      await reader.whenSynced(30_000)
      await reader.close()
      await second.close()
      // A full comparison would offer all 300 entries (about 100 bytes each) again; the minimal reconnect offers 3.
      expect(second.bytes(), `initial sync moved ${initial} bytes`).toBeLessThan(Math.min(initial / 10, (N * 100) / 3))
    } finally {
      await writer.close()
      await Promise.all([stop(relay1.child), stop(relay2.child)])
      await store.drop()
    }
  })

  it("a commit made while a relay process's listen connection is down reaches its clients once it listens again", async () => {
    const store = freshSchema()
    const relay = relayProcess(await dirs.make(), store.url)
    // The other process of the relay: this test's own, over the same store.
    const other = await NodePeer.open({ dir: await dirs.make(), relay: true, store: store.url, localSocket: false })
    const watcher = await client()
    const db = await PgStore.open(store.url, { maxConnections: 1 })
    const listener = async () =>
      (
        await db.query<{ pid: number; started: Date }>(
          "SELECT pid, backend_start AS started FROM pg_stat_activity WHERE application_name = $1",
          [`cairn listen pid=${relay.child.pid}`],
        )
      ).rows[0]
    try {
      watcher.connect(await relay.listening)
      await watcher.whenSynced(15_000)
      let written: { id: string; at: number } | undefined
      // The commit must land while the connection is down: checked by the time the new connection started.
      for (let attempt = 0; attempt < 5 && !written; attempt++) {
        const before = await until(listener)
        await db.query("SELECT pg_terminate_backend($1)", [before.pid])
        const doc = await other.db.create("task", { title: `while down ${attempt}` })
        const at = Date.now()
        const after = await until(async () => {
          const now = await listener()
          return now && now.pid !== before.pid ? now : undefined
        })
        if (after.started.getTime() > at) written = { id: doc.id, at }
      }
      expect(written, "a commit landed while the listen connection was down").toBeDefined()
      await until(async () => watcher.db.catalog.get(written!.id) !== undefined)
      expect((await watcher.db.get(written!.id)).data.title).toMatch(/^while down/)
    } finally {
      await watcher.close()
      await other.close()
      await db.close()
      await stop(relay.child)
      await store.drop()
    }
  })

  it("concurrent writes of one document through both processes both survive, and both processes list the same heads", async () => {
    const store = freshSchema()
    const [relay1, relay2] = [relayProcess(await dirs.make(), store.url), relayProcess(await dirs.make(), store.url)]
    const [a, b] = [await client(), await client()]
    try {
      const [url1, url2] = await Promise.all([relay1.listening, relay2.listening])
      const doc = await a.db.create("task", { title: "shared", count: 0 })
      a.connect(url1)
      b.connect(url2)
      await until(async () => b.db.catalog.get(doc.id) !== undefined)
      // Twenty rounds of both writing at once, each through its own relay process.
      for (let i = 0; i < 20; i++)
        await Promise.all([
          a.db.change("task", doc.id, draft => void (draft[`a${i}`] = i)),
          b.db.change("task", doc.id, draft => void (draft[`b${i}`] = i)),
        ])
      const complete = (data: Record<string, unknown>) =>
        Array.from({ length: 20 }, (_, i) => data[`a${i}`] === i && data[`b${i}`] === i).every(Boolean)
      for (const peer of [a, b]) await until(async () => complete((await peer.db.get(doc.id)).data), 30_000)
      // The catalog's row (what each process adopts, and loads on restart) converges on the document's heads,
      // although each writer listed only its own change: a client holding those heads would be offered nothing.
      const heads = (await a.db.replica.store.read(doc.id).then(d => A.getHeads(d))).sort()
      expect(heads.length).toBeGreaterThan(0)
      const storage = new PgStorage(await PgStore.open(store.url, { maxConnections: 1 }))
      try {
        await until(async () => {
          const [row] = await storage.loadCommitted(["cairn-catalog", "entry", doc.id])
          return row && decodeEntryRow(row.data!, row.seq).heads.join() === heads.join()
        })
      } finally {
        await storage.close()
      }
      // Both relay processes serve every change: a fresh client of each gets them all.
      for (const url of [url1, url2]) {
        const reader = ["--data", await dirs.make()]
        await json([...reader, "sync", url])
        const [listed] = await json([...reader, "ls", "--type", "task"])
        expect(complete((await json([...reader, "get", listed.id])).data)).toBe(true)
      }
    } finally {
      await Promise.all([a.close(), b.close()])
      await Promise.all([stop(relay1.child), stop(relay2.child)])
      await store.drop()
    }
  })
})
