/**
 * Replication between peers that are separate OS processes, over real
 * WebSockets on 127.0.0.1.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { afterAll, describe, expect, it } from "vitest"
import { PeerProcess, TempDirs, eventually } from "./helpers/PeerProcess.js"
import { WireTap } from "./helpers/WireTap.js"

const dirs = new TempDirs()
const running: PeerProcess[] = []
afterAll(async () => {
  await Promise.all(running.map(p => p.kill()))
  await dirs.cleanup()
})

async function start(options: { dir?: string; wants?: string; relay?: boolean } = {}): Promise<PeerProcess> {
  const peer = await PeerProcess.start({ dir: options.dir ?? (await dirs.make()), ...options })
  running.push(peer)
  return peer
}

const plain = (docs: { id: string; data: unknown; deletedAt: unknown }[]) =>
  Object.fromEntries(docs.map(d => [d.id, { data: d.data, deletedAt: d.deletedAt }]))

describe("replication across processes", () => {
  it("both sides edit offline, reconnect, and converge for every field kind", async () => {
    const server = await start()
    const client = await start()
    const { url } = await server.call("listen")
    const id = await server.call("create", { type: "task", data: { title: "shared", tags: ["a"], meta: { k: "v" }, notes: "hello world" } })
    await client.call("connect", { url })
    await eventually(() => client.call("heads", { id }))
    await client.call("disconnect", { url })

    await server.call("change", {
      type: "task",
      id,
      ops: [
        { op: "set", path: ["title"], value: "server title" },
        { op: "incr", path: ["votes"], by: 2 },
        { op: "splice", path: ["notes"], index: 0, del: 0, text: ">> " },
        { op: "push", path: ["tags"], value: "s" },
        { op: "set", path: ["meta", "server"], value: "yes" },
      ],
    })
    await client.call("change", {
      type: "task",
      id,
      ops: [
        { op: "set", path: ["done"], value: true },
        { op: "incr", path: ["votes"], by: 3 },
        { op: "splice", path: ["notes"], index: 11, del: 0, text: "!" },
        { op: "push", path: ["tags"], value: "c" },
        { op: "delete-key", path: ["meta", "k"] },
      ],
    })
    const offline = await client.call("create", { type: "note", data: { body: "written offline" } })

    await client.call("connect", { url })
    await client.call("synced")
    await server.call("synced")
    const [a, b] = await Promise.all([server.call("get", { id }), client.call("get", { id })])
    expect(a.data).toEqual(b.data)
    expect(a.data.votes).toBe(5)
    expect(a.data.notes).toBe(">> hello world!")
    expect(a.data.tags.slice().sort()).toEqual(["a", "c", "s"])
    expect(a.data.meta).toEqual({ server: "yes" })
    expect(a.data.done).toBe(true)
    expect(a.data.title).toBe("server title")
    expect(await server.call("heads", { id })).toEqual(await client.call("heads", { id }))
    expect((await server.call("get", { id: offline })).data.body).toBe("written offline")
    await Promise.all([server.stop(), client.stop()])
  })

  it("a peer subscribed to task gets exactly the tasks from a relay, and no other id crosses its wire", async () => {
    const relay = await start({ relay: true })
    const writer = await start()
    const { url, port } = await relay.call("listen")
    const ids: Record<string, string[]> = { task: [], note: [], secret: [] }
    for (const type of Object.keys(ids)) {
      for (let i = 0; i < 5; i++) {
        const data = type === "task" ? { title: `t${i}` } : type === "note" ? { body: `n${i}` } : { code: `s${i}` }
        ids[type]!.push(await writer.call("create", { type, data }))
      }
    }
    await writer.call("connect", { url })
    await writer.call("synced")
    await eventually(async () => (await relay.call("catalog")).length === 15)

    const tap = await WireTap.start(port)
    const reader = await start({ wants: "task" })
    await reader.call("connect", { url: tap.url })
    await reader.call("synced")
    const held = (await reader.call("catalog")).map((e: { id: string }) => e.id).sort()
    expect(held).toEqual([...ids.task!].sort())
    const wire = tap.transcript().toString("latin1")
    for (const id of ids.task!) expect(wire).toContain(id)
    for (const id of [...ids.note!, ...ids.secret!]) expect(wire).not.toContain(id)
    // Documents created while connected arrive live; other types still never do.
    const liveTask = await writer.call("create", { type: "task", data: { title: "live" } })
    const liveNote = await writer.call("create", { type: "note", data: { body: "live" } })
    await eventually(async () => (await reader.call("heads", { id: liveTask })) !== null)
    await writer.call("synced")
    await sleep(300)
    expect(await reader.call("heads", { id: liveNote })).toBeNull()
    expect(tap.transcript().toString("latin1")).not.toContain(liveNote)
    await tap.close()
    await Promise.all([relay.stop(), writer.stop(), reader.stop()])
  })

  it("store-and-forward: two peers never online together sync through a relay", async () => {
    const relay = await start({ relay: true })
    const { url } = await relay.call("listen")
    const alice = await start()
    const doc = await alice.call("create", { type: "task", data: { title: "from alice" } })
    await alice.call("connect", { url })
    await alice.call("synced")
    await alice.stop()

    const bob = await start()
    await bob.call("connect", { url })
    await bob.call("synced")
    expect((await bob.call("get", { id: doc })).data.title).toBe("from alice")
    await bob.call("change", { type: "task", id: doc, ops: [{ op: "set", path: ["title"], value: "bob was here" }] })
    await bob.call("synced")
    await bob.stop()

    const alice2 = await start({ dir: alice.options.dir })
    await alice2.call("connect", { url })
    await alice2.call("synced")
    expect((await alice2.call("get", { id: doc })).data.title).toBe("bob was here")
    await Promise.all([alice2.stop(), relay.stop()])
  })

  it("deletes and purges reach the other side", async () => {
    const server = await start()
    const client = await start()
    const { url } = await server.call("listen")
    const keep = await server.call("create", { type: "task", data: { title: "keep" } })
    const gone = await server.call("create", { type: "task", data: { title: "gone" } })
    await client.call("connect", { url })
    await client.call("synced")
    await server.call("delete", { id: gone })
    await eventually(async () => (await client.call("list", { type: "task" })).length === 1)
    expect((await client.call("list", { type: "task" }))[0].id).toBe(keep)
    await server.call("purge", { id: gone })
    await eventually(async () => (await client.call("catalog")).find((e: { id: string; purged?: boolean }) => e.id === gone)?.purged)
    await expect(client.call("get", { id: gone })).rejects.toThrow(/purged/)
    await Promise.all([server.stop(), client.stop()])
  })

  it("restarting either side mid-way, and kill -9 of the server, loses no acknowledged write", async () => {
    const serverDir = await dirs.make()
    let server = await start({ dir: serverDir })
    const client = await start()
    const { port } = await server.call("listen")
    const url = `ws://127.0.0.1:${port}`
    const first = await server.call("createMany", { type: "task", count: 200, prefix: "server" })
    await client.call("connect", { url })
    // Kill the server while the client is pulling.
    await eventually(async () => (await client.call("catalog")).length > 0, 15_000, 5)
    await server.kill()
    const afterKill = await client.call("createMany", { type: "task", count: 20, prefix: "client" })
    server = await start({ dir: serverDir })
    running.push(server)
    await server.call("listen", { port })
    await client.call("synced", { timeoutMs: 30_000 })
    await server.call("synced", { timeoutMs: 30_000 })
    const serverDocs = plain(await server.call("list", { type: "task" }))
    const clientDocs = plain(await client.call("list", { type: "task" }))
    expect(Object.keys(serverDocs).length).toBe(220)
    expect(clientDocs).toEqual(serverDocs)
    for (const id of [...first, ...afterKill]) expect(serverDocs[id]).toBeDefined()
    // Restart the client too; it catches up on what changed meanwhile.
    await client.stop()
    await server.call("change", { type: "task", id: first[0], ops: [{ op: "set", path: ["done"], value: true }] })
    const client2 = await start({ dir: client.options.dir })
    await client2.call("connect", { url })
    await client2.call("synced")
    expect((await client2.call("get", { id: first[0] })).data.done).toBe(true)
    await Promise.all([server.stop(), client2.stop()])
  })
})
