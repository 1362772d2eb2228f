/**
 * Grants and limits on the paths beside the usual ones, against a live
 * server in its own process: every message kind that carries changes, a
 * frame built to cost more to decode than to send, a reconnect while the old
 * connection is still half open, a reader that asks and never reads, and the
 * answers about documents a machine may not see.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { randomBytes } from "node:crypto"
import { createServer, connect, type Server, type Socket } from "node:net"
import type { AddressInfo } from "node:net"
import { afterAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import * as A from "@automerge/automerge"
import { generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo"
import { PeerProcess, TempDirs, eventually } from "./helpers/PeerProcess.js"

const dirs = new TempDirs()
const running: PeerProcess[] = []
afterAll(async () => {
  await Promise.all(running.map(p => p.kill()))
  await dirs.cleanup()
})

const MB = 1024 * 1024

async function start(options: { dir?: string; wants?: string; auth?: string } = {}): Promise<PeerProcess> {
  const peer = await PeerProcess.start({ dir: options.dir ?? (await dirs.make()), ...options })
  running.push(peer)
  return peer
}

/** A server in trust mode, and a client machine it trusts with `grants` (and which trusts it). */
async function serverAndClient(grants: { read: string[] | "*"; write: string[] | "*" }, serverDir?: string) {
  const server = await start({ auth: "trust", ...(serverDir ? { dir: serverDir } : {}) })
  const client = await start({ auth: "trust" })
  const [serverInfo, clientInfo] = await Promise.all([server.call("info"), client.call("info")])
  await server.call("trust", { publicKey: clientInfo.publicKey, ...grants })
  await client.call("trust", { publicKey: serverInfo.publicKey, read: "*", write: "*" })
  return { server, client, serverInfo, clientInfo }
}

function randomId(): string {
  return parseAutomergeUrl(generateAutomergeUrl()).documentId
}

/** A sync message with no changes, as a peer that has nothing sends first. */
function emptyRequest(): string {
  return Buffer.from(A.generateSyncMessage(A.init(), A.initSyncState())[1]!).toString("base64")
}

describe("guarantees on every path", () => {
  it("a machine with read on task only cannot change a task with any message kind, and nothing it sent survives a restart", async () => {
    const serverDir = await dirs.make()
    const { server, client } = await serverAndClient({ read: ["task"], write: [] }, serverDir)
    const { url } = await server.call("listen")
    const task = await server.call("create", { type: "task", data: { title: "read only here" } })
    await client.call("connect", { url })
    await client.call("synced")
    await client.call("rawOpen", { url })

    for (const kind of ["sync", "request"]) {
      await client.call("rawRepo", {
        type: kind,
        documentId: task,
        data: await client.call("craftChange", { id: task, set: { "data.title": `tampered by ${kind}` } }),
      })
      await client.call("rawRepo", {
        type: kind,
        documentId: task,
        data: await client.call("craftChange", { id: task, set: { type: "note" } }),
      })
    }
    const denied = await eventually(async () => {
      const received = await client.call("rawReceived")
      return received.filter((r: any) => r.kind === "control" && r.message.t === "denied")
    })
    expect(denied[0].message.ids).toEqual([task])
    await sleep(300)
    const entry = await server.call("entry", { id: task })
    expect(entry.quarantined).toBeUndefined()
    expect((await server.call("get", { id: task })).data.title).toBe("read only here")

    await server.stop()
    const again = await start({ dir: serverDir, auth: "trust" })
    expect((await again.call("get", { id: task })).data.title).toBe("read only here")
    expect((await again.call("entry", { id: task })).quarantined).toBeUndefined()
    await Promise.all([again.stop(), client.stop()])
  })

  it("a machine that may write tasks changes their data, never their type or creator: refused at the gate, the task stays a task", async () => {
    const { server, client } = await serverAndClient({ read: ["task"], write: ["task"] })
    const { url } = await server.call("listen")
    const task = await server.call("create", { type: "task", data: { title: "before" } })
    await client.call("connect", { url })
    await client.call("synced")
    await client.call("rawOpen", { url })
    // Both message kinds that can carry changes.
    for (const kind of ["sync", "request"]) {
      for (const set of [{ type: "note" }, { createdBy: "someone else" }]) {
        await client.call("rawRepo", { type: kind, documentId: task, data: await client.call("craftChange", { id: task, set }) })
      }
    }
    const denied: any[] = []
    await eventually(async () => {
      const received = await client.call("rawReceived")
      denied.push(...received.filter((r: any) => r.kind === "control" && r.message.t === "denied"))
      return denied.length >= 4
    })
    expect(denied.map((d: any) => d.message.reason)).toEqual(
      ["sync", "request"].flatMap(() => [
        "a document's type is fixed at its creation and cannot be changed",
        "a document's createdBy is fixed at its creation and cannot be changed",
      ]),
    )
    // The same machine's change to the data goes through.
    await client.call("rawRepo", {
      type: "sync",
      documentId: task,
      data: await client.call("craftChange", { id: task, set: { "data.title": "after" } }),
    })
    await eventually(async () => (await server.call("get", { id: task })).data.title === "after")
    const entry = await server.call("entry", { id: task })
    expect(entry.quarantined).toBeUndefined()
    expect(entry.type).toBe("task")
    await client.stop()
  })

  it("the same changes in a batch (docs frames) are refused too: the task stays a task with its creation time, its data change lands", async () => {
    const { server, client } = await serverAndClient({ read: ["task"], write: ["task"] })
    const { url } = await server.call("listen")
    const task = await server.call("create", { type: "task", data: { title: "before" } })
    const tampered = await server.call("create", { type: "task", data: { title: "kept" } })
    const stamped = await server.call("create", { type: "task", data: { title: "kept too" } })
    await client.call("connect", { url })
    await client.call("synced")
    const created = (await server.call("entry", { id: stamped })).createdAt
    const crafted = {
      [task]: await client.call("craftChange", { id: task, set: { "data.title": "after" }, as: "bytes" }),
      [tampered]: await client.call("craftChange", { id: tampered, set: { type: "note" }, as: "bytes" }),
      [stamped]: await client.call("craftChange", { id: stamped, set: { createdBy: "someone else" }, as: "bytes" }),
    }
    await client.call("rawServe", {
      entries: Object.entries(crafted).map(([id, { heads }]) => ({ id, type: "task", heads })),
      docs: Object.fromEntries(Object.entries(crafted).map(([id, { bytes, vouches }]) => [id, { bytes, vouches }])),
    })
    await client.call("rawOpen", { url })
    const denied: any[] = []
    await eventually(async () => {
      const received = await client.call("rawReceived")
      denied.push(...received.filter((r: any) => r.kind === "control" && r.message.t === "denied"))
      return denied.length >= 2
    })
    expect(denied.map((d: any) => [d.message.ids, d.message.reason]).sort()).toEqual(
      [
        [[tampered], "a document's type is fixed at its creation and cannot be changed"],
        [[stamped], "a document's createdBy is fixed at its creation and cannot be changed"],
      ].sort(),
    )
    // The data change in the same batch went through; the other two documents are as they were, not quarantined.
    await eventually(async () => (await server.call("get", { id: task })).data.title === "after")
    for (const [id, title] of [
      [tampered, "kept"],
      [stamped, "kept too"],
    ]) {
      const entry = await server.call("entry", { id })
      expect(entry.quarantined).toBeUndefined()
      expect(entry.type).toBe("task")
      expect((await server.call("get", { id })).data.title).toBe(title)
    }
    expect((await server.call("entry", { id: stamped })).createdAt).toBe(created)
    await client.stop()
  })

  it("answers alike for a document the machine may not read and for one that does not exist", async () => {
    const { server, client } = await serverAndClient({ read: ["task"], write: ["task"] })
    const { url } = await server.call("listen")
    const note = await server.call("create", { type: "note", data: { body: "hidden" } })
    await client.call("rawOpen", { url })
    await sleep(200)
    await client.call("rawReceived")

    const probe = async (id: string) => {
      const foreign = randomId()
      await client.call("rawRepo", { type: "request", documentId: id, data: emptyRequest() })
      await client.call("rawRepo", { type: "sync", documentId: id, data: emptyRequest() })
      await client.call("rawRepo", { type: "ephemeral", documentId: id, data: Buffer.from([1]).toString("base64") })
      await client.call("rawRepo", { type: "remote-heads-changed", documentId: id })
      await client.call("rawControl", {
        message: { t: "offer", epoch: "e", seq: 1, entries: [{ id, type: "task", heads: ["00".repeat(32)] }], done: true },
      })
      await client.call("rawControl", {
        message: {
          t: "offer",
          epoch: "e",
          seq: 2,
          entries: [
            { id, type: "note", heads: ["00".repeat(32)] },
            { id, type: "task", heads: [], purged: true },
          ],
          done: true,
        },
      })
      await client.call("rawControl", { message: { t: "want", docs: [{ id, have: [] }] } })
      await sleep(500)
      const received = await client.call("rawReceived")
      // The same shape with the id masked (and the ids of the wants, which name the probed id too).
      return JSON.stringify(received).replaceAll(id, "ID").replaceAll(foreign, "X")
    }
    const hidden = await probe(note)
    const missing = await probe(randomId())
    expect(hidden).toBe(missing)
    expect(hidden).toContain("doc-unavailable")
    expect((await server.call("get", { id: note })).data.body).toBe("hidden")
    expect((await server.call("entry", { id: note })).purged).toBeUndefined()
    await Promise.all([server.stop(), client.stop()])
  })

  it("refuses a frame built to be expensive to decode, before and after the handshake, and keeps serving", async () => {
    const { server, client } = await serverAndClient({ read: "*", write: "*" })
    const { url } = await server.call("listen")
    await server.call("create", { type: "task", data: { title: "still here" } })
    const before = (await server.call("memory")).rss
    // An array declaring 20 million empty maps: 20 MB on the wire, gigabytes as JavaScript objects.
    const items = 20_000_000
    const bomb = new Uint8Array(5 + items)
    bomb.set([0x9a, (items >>> 24) & 0xff, (items >>> 16) & 0xff, (items >>> 8) & 0xff, items & 0xff])
    bomb.fill(0xa0, 5)

    const raw = new WebSocket(url)
    await new Promise(resolve => raw.on("open", resolve))
    const closed = new Promise<number>(resolve => raw.on("close", code => resolve(code)))
    raw.send(bomb)
    // Cut off as the bytes arrive (1006), or refused by the frame checks (4400): never decoded.
    expect([1006, 4400]).toContain(await closed)
    expect((await server.call("memory")).rss - before).toBeLessThan(100 * MB)

    // A normal client is served meanwhile, and afterwards.
    await client.call("connect", { url })
    await client.call("synced")
    expect((await client.call("list", { type: "task" })).length).toBe(1)

    // The same frame from an authenticated machine, as a control message's payload.
    await client.call("rawOpen", { url })
    const head = new Uint8Array([0xa2, 0x64, ...Buffer.from("kind"), 0x67, ...Buffer.from("control"), 0x67, ...Buffer.from("message")])
    const frame = new Uint8Array(head.length + bomb.length)
    frame.set(head)
    frame.set(bomb, head.length)
    await client.call("rawBytes", { data: Buffer.from(frame).toString("base64") })
    await eventually(() => server.stderr.join("").includes("more than 200000 items"))
    const after = (await server.call("memory")).rss
    expect(after - before).toBeLessThan(300 * MB)
    const started = Date.now()
    await server.call("catalog")
    expect(Date.now() - started).toBeLessThan(2000)
    await Promise.all([server.stop(), client.stop()])
  })

  it("a reconnect while the old connection is still half open keeps its grants: changes flow both ways", async () => {
    const { server, client } = await serverAndClient({ read: ["task"], write: ["task"] })
    const { url } = await server.call("listen")
    const proxy = await HalfOpenProxy.start(new URL(url).port)
    await client.call("connect", { url: proxy.url })
    await client.call("synced")
    // The client's side goes away without a word to the server: the server still holds the old socket open.
    proxy.dropClientSides()
    await eventually(async () => (await client.call("clients"))[0]?.status === "connected" && proxy.connections > 1, 20_000)
    const fromServer = await server.call("create", { type: "task", data: { title: "from the server" } })
    const fromClient = await client.call("create", { type: "task", data: { title: "from the client" } })
    await eventually(async () => (await client.call("heads", { id: fromServer })) !== null)
    await eventually(async () => (await server.call("heads", { id: fromClient })) !== null)
    proxy.close()
    await Promise.all([server.stop(), client.stop()])
  })

  it("a machine trusted with no grants at all is refused, and whenSynced says why", async () => {
    const { server, client } = await serverAndClient({ read: [], write: [] })
    const { url } = await server.call("listen")
    await client.call("connect", { url })
    await expect(client.call("synced", { timeoutMs: 10_000 })).rejects.toThrow(/may read and write nothing/)
    await Promise.all([server.stop(), client.stop()])
  })

  it("a reader that asks again and again and never reads is disconnected before it takes the server's memory", async () => {
    const { server, client } = await serverAndClient({ read: "*", write: [] })
    const { url } = await server.call("listen")
    // Random, so that Automerge's compression leaves it 5 MB.
    const big = await server.call("create", { type: "task", data: { title: randomBytes(3.75 * MB).toString("base64") } })
    const before = (await server.call("memory")).rss
    const proxy = await HalfOpenProxy.start(new URL(url).port)
    await client.call("rawOpen", { url: proxy.url })
    proxy.stopReadingFromServer()
    // 40 answers of 5 MB would be 200 MB held for it; the server stops at about 32 MB (twice its 16 MiB limit).
    await Promise.all(Array.from({ length: 40 }, () => client.call("rawRepo", { type: "request", documentId: big, data: emptyRequest() })))
    await eventually(() => server.stderr.join("").includes("the peer is not reading"), 20_000)
    const after = (await server.call("memory")).rss
    expect(after - before).toBeLessThan(200 * MB)
    // Everyone else is still served.
    const other = await start({ auth: "trust" })
    const small = await server.call("create", { type: "note", data: { body: "served" } })
    await server.call("trust", { publicKey: (await other.call("info")).publicKey, read: ["note"], write: [] })
    await other.call("trust", { publicKey: (await server.call("info")).publicKey, read: "*", write: "*" })
    await other.call("connect", { url })
    await other.call("synced")
    expect(await other.call("heads", { id: small })).not.toBeNull()
    proxy.close()
    await Promise.all([server.stop(), client.stop(), other.stop()])
  })
})

/**
 * A TCP proxy on 127.0.0.1 that can cut the client's side of every
 * connection while leaving the server's side open (a half-open connection,
 * as a dropped Wi-Fi or a sleeping laptop leaves it), or stop reading what
 * the server sends (a client that does not read).
 */
class HalfOpenProxy {
  readonly #pairs: { client: Socket; upstream: Socket }[] = []
  connections = 0

  private constructor(private readonly server: Server) {}

  static async start(port: string | number): Promise<HalfOpenProxy> {
    let proxy!: HalfOpenProxy
    const server = createServer(client => {
      proxy.connections++
      const upstream = connect(Number(port), "127.0.0.1")
      proxy.#pairs.push({ client, upstream })
      client.pipe(upstream)
      upstream.pipe(client)
      client.on("error", () => {})
      upstream.on("error", () => {})
    })
    proxy = new HalfOpenProxy(server)
    await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve))
    return proxy
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/`
  }

  dropClientSides(): void {
    for (const { client, upstream } of this.#pairs) {
      upstream.unpipe(client)
      client.unpipe(upstream)
      client.destroy()
    }
  }

  stopReadingFromServer(): void {
    for (const { client, upstream } of this.#pairs) {
      upstream.unpipe(client)
      upstream.pause()
    }
  }

  close(): void {
    for (const { client, upstream } of this.#pairs) {
      client.destroy()
      upstream.destroy()
    }
    this.server.close()
  }
}
