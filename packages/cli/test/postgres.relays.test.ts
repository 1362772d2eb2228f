/**
 * Several `cairn serve --relay --store postgres://…` processes serving one
 * store at once, as one relay: a change written through one reaches the
 * clients of the others live (LISTEN/NOTIFY, then the rows read back), a
 * client's checkpoint means the same in every process, writes of one
 * document through two processes at the same moment both survive, and a
 * process that applies another's commit writes none of it again (every row
 * written is logged by a trigger the tests add to the store's table).
 */
import { createServer, connect, type Server } from "node:net"
import { afterAll, describe, expect, it } from "vitest"
import * as A from "@automerge/automerge"
import { NodePeer, PgStorage, PgStore } from "@cairn/node"
import { decodeEntryRow } from "../../core/src/catalog/sharedRows.js"
import { freshSchema, POSTGRES_URL, type TestSchema } from "../../node/test/helpers/postgres.js"
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

  it("writes of one document through both processes at the same moment, each without the other's commit, both survive", async () => {
    const store = freshSchema()
    const [relay1, relay2] = [relayProcess(await dirs.make(), store.url), relayProcess(await dirs.make(), store.url)]
    const [a, b] = [await client(), await client()]
    const [url1, url2] = await Promise.all([relay1.listening, relay2.listening])
    const log = await writeLog(store)
    const db = await PgStore.open(store.url, { maxConnections: 2 })
    const gate = await db.dedicatedClient()
    try {
      const doc = await a.db.create("task", { title: "shared" })
      a.connect(url1)
      b.connect(url2)
      await until(async () => b.db.catalog.get(doc.id) !== undefined)
      // Watched, the document syncs live between each client and its process.
      const watching = [a, b].map(peer => peer.db.subscribe(doc.id, () => {}))
      const seen = (peer: NodePeer, key: string) => async () => (await peer.db.get(doc.id)).data[key] !== undefined
      // Each process holds the document loaded: each client writes it once through its own, and sees the other's.
      await b.db.change("task", doc.id, draft => void (draft.openB = true))
      await until(seen(a, "openB"))
      await a.db.change("task", doc.id, draft => void (draft.openA = true))
      await until(seen(b, "openA"))
      const ROUNDS = 3
      for (let i = 0; i < ROUNDS; i++) {
        const before = await latestSeq(db)
        // Holding the store's sequence row holds back every commit: each process writes its change while the
        // other's is not committed, so neither can have it. Released once both wait on it (and their documents'
        // saves, which follow a client's change within a few milliseconds, are queued).
        await gate.query(`BEGIN; SELECT seq FROM ${db.table("sequence")} FOR UPDATE`)
        await Promise.all([
          a.db.change("task", doc.id, draft => void (draft[`a${i}`] = i)),
          b.db.change("task", doc.id, draft => void (draft[`b${i}`] = i)),
        ])
        await until(async () => {
          const { rows } = await db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE%sequence%'",
          )
          return rows[0]!.n === 2
        })
        await new Promise(resolve => setTimeout(resolve, 300))
        await gate.query("COMMIT")
        // Both processes wrote the document behind the held row: two writers of its chunks in this round.
        await until(async () => new Set((await log.since(before)).filter(row => row.key[0] === doc.id).map(row => row.writer)).size === 2)
      }
      const complete = (data: Record<string, unknown>) =>
        Array.from({ length: ROUNDS }, (_, i) => data[`a${i}`] === i && data[`b${i}`] === i).every(Boolean)
      // Live, through each client's own process: each process took the other's commit into the document it holds.
      for (const peer of [a, b]) await until(async () => complete((await peer.db.get(doc.id)).data), 15_000)
      for (const stopWatching of watching) stopWatching()
      // The catalog's row (what each process adopts, and loads on restart) converges on the document's heads,
      // although each writer listed only its own change: a client holding those heads would be offered nothing.
      const heads = (await a.db.replica.store.read(doc.id).then(d => A.getHeads(d))).sort()
      const storage = new PgStorage(db)
      await until(async () => {
        const [row] = await storage.loadCommitted(["cairn-catalog", "entry", doc.id])
        return row && decodeEntryRow(row.data!, row.seq).heads.join() === heads.join()
      })
      // And a fresh client of either process gets every change.
      for (const url of [url1, url2]) {
        const reader = ["--data", await dirs.make()]
        await json([...reader, "sync", url])
        expect(complete((await json([...reader, "get", doc.id])).data)).toBe(true)
      }
    } finally {
      await gate.end()
      await log.close()
      await db.close()
      await Promise.all([a.close(), b.close()])
      await Promise.all([stop(relay1.child), stop(relay2.child)])
      await store.drop()
    }
  })

  it("a process applying another's commits writes nothing back, neither the document's chunks nor its catalog row", async () => {
    const store = freshSchema()
    const [relay1, relay2] = [relayProcess(await dirs.make(), store.url), relayProcess(await dirs.make(), store.url)]
    const [writer, watcher] = [await client(), await client()]
    const [url1, url2] = await Promise.all([relay1.listening, relay2.listening])
    const log = await writeLog(store)
    const db = await PgStore.open(store.url, { maxConnections: 1 })
    try {
      const doc = await writer.db.create("task", { title: "v0" })
      writer.connect(url1)
      watcher.connect(url2)
      await until(async () => watcher.db.catalog.get(doc.id) !== undefined)
      const titles: unknown[] = []
      const stopWatching = watcher.db.subscribe(doc.id, d => d && titles.push(d.data.title))
      await until(async () => titles.includes("v0"))
      // A change of the watcher's, synced live, opens the document in process two, which from then on merges each
      // commit it takes into the document it holds and pushes it to the watcher.
      await watcher.db.change("task", doc.id, draft => void (draft.seenBy = "watcher"))
      await until(async () => (await writer.db.get(doc.id)).data.seenBy === "watcher")
      await Promise.all([writer.whenSynced(15_000), watcher.whenSynced(15_000)])
      await new Promise(resolve => setTimeout(resolve, 500))
      const before = await latestSeq(db)
      for (let i = 1; i <= 3; i++) {
        await writer.db.change("task", doc.id, draft => void (draft.title = `v${i}`))
        await until(async () => titles.includes(`v${i}`))
      }
      await Promise.all([writer.whenSynced(15_000), watcher.whenSynced(15_000)])
      // Past automerge-repo's save debounce: a write back would have been made by now.
      await new Promise(resolve => setTimeout(resolve, 1_000))
      stopWatching()
      // What a process records of a client it serves (its checkpoint, automerge-repo's sync state) is its own to write.
      const written = (await log.since(before)).filter(row => row.key[0] !== "cairn-sync" && row.key[1] !== "sync-state")
      const writers = new Map<string, Written[]>()
      for (const row of written) writers.set(row.writer, [...(writers.get(row.writer) ?? []), row])
      const perCommit = [...writers.values()].map(rows => rows.map(row => `${row.seq}:${row.key.join("/")}:${row.bytes}B`).join(" "))
      expect(written.some(row => row.key[0] === doc.id)).toBe(true)
      expect(writers.size, `rows written per process since commit ${before}: ${perCommit.join(" | ")}`).toBe(1)
    } finally {
      await log.close()
      await db.close()
      await Promise.all([writer.close(), watcher.close()])
      await Promise.all([stop(relay1.child), stop(relay2.child)])
      await store.drop()
    }
  })
})

/**
 * Every row a batch writes to `<schema>.chunks`, kept even if a later batch
 * overwrites or a compaction removes it: (seq, writer, key, bytes), logged by
 * a trigger the test adds once the store made its tables.
 */
async function writeLog(store: TestSchema): Promise<{ since: (seq: number) => Promise<Written[]>; close: () => Promise<void> }> {
  const db = await PgStore.open(store.url, { maxConnections: 1 })
  const [log, chunks, fn] = [`"${store.schema}".written`, db.table("chunks"), `"${store.schema}".log_written`]
  await db.query(`CREATE TABLE ${log} (seq bigint, writer text, key text[], bytes int)`)
  await db.query(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO ${log} VALUES (NEW.seq, NEW.writer, NEW.key, length(NEW.data)); RETURN NEW; END $$`)
  await db.query(`CREATE TRIGGER log_written AFTER INSERT OR UPDATE ON ${chunks} FOR EACH ROW EXECUTE FUNCTION ${fn}()`)
  return {
    since: async seq =>
      (
        await db.query<{ seq: string; writer: string; key: string[]; bytes: number }>(
          `SELECT seq, writer, key, bytes FROM ${log} WHERE seq > $1 ORDER BY seq`,
          [seq],
        )
      ).rows.map(row => ({ ...row, seq: Number(row.seq) })),
    close: () => db.close(),
  }
}

interface Written {
  seq: number
  writer: string
  key: string[]
  bytes: number
}

/** The store's latest commit. */
async function latestSeq(db: PgStore): Promise<number> {
  return Number((await db.query<{ seq: string }>(`SELECT seq FROM ${db.table("sequence")}`)).rows[0]!.seq)
}
