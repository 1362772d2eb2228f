/**
 * The local socket against a hostile or buggy client on the same machine:
 * raw connections that send oversized lines, garbage, unknown methods and
 * change bytes crafted past the client's checks. Each is answered with an
 * error that says what was wrong, nothing is applied, and the peer keeps
 * serving. And who may connect at all: the socket's and directory's modes.
 */
import { spawnSync } from "node:child_process"
import { chmod, chown, stat } from "node:fs/promises"
import { connect, type Socket } from "node:net"
import { dirname, join } from "node:path"
import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { buildDetached, defineType, f, newCreation, toHex } from "@cairn/core"
import { LocalClient, LocalPeerError, MAX_REQUEST_CHARS, NodePeer, SOCKET_NAME, openLocal } from "../../src/index.js"
import { waitFor } from "../../../core/test/wait.js"
import { afterThisTest, tempDir } from "../helpers/afterEachTest.js"

const Task = defineType("task", { fields: { title: f.string(), votes: f.counter() } })

/** A peer on a data directory it creates (inside a new temporary one). */
async function holder(): Promise<NodePeer> {
  const peer = await NodePeer.open({ dir: join(await tempDir("cairn-local-"), "data"), types: [Task] })
  afterThisTest(() => peer.close())
  return peer
}

/** A raw connection to the socket: send lines, read the answers (JSON) as they come. */
class Raw {
  readonly answers: any[] = []
  #buffer = ""
  readonly closed: Promise<void>
  private constructor(readonly socket: Socket) {
    socket.setEncoding("utf8")
    socket.on("data", chunk => {
      this.#buffer += chunk
      let newline: number
      while ((newline = this.#buffer.indexOf("\n")) >= 0) {
        this.answers.push(JSON.parse(this.#buffer.slice(0, newline)))
        this.#buffer = this.#buffer.slice(newline + 1)
      }
    })
    socket.on("error", () => {})
    this.closed = new Promise(resolve => socket.once("close", () => resolve()))
  }
  static async open(peer: NodePeer): Promise<Raw> {
    const socket = connect(join(peer.directory.path, SOCKET_NAME))
    await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject))
    const raw = new Raw(socket)
    afterThisTest(async () => socket.destroy())
    return raw
  }
  send(text: string): void {
    this.socket.write(text)
  }
  async next(): Promise<any> {
    const deadline = Date.now() + 5000
    while (this.answers.length === 0) {
      if (Date.now() > deadline) throw new Error("no answer")
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    return this.answers.shift()
  }
  async call(method: string, params: unknown, id: unknown = 1): Promise<any> {
    this.send(JSON.stringify({ id, method, params }) + "\n")
    return this.next()
  }
}

/** A task made by the holder, and an Automerge copy of it as a client of this machine would hold it. */
async function taskAndCopy(peer: NodePeer, actorMachine = peer.machineId) {
  const task = await peer.db.create(Task, { title: "original" })
  const actor = (actorMachine + "0123456789abcdef") as A.ActorId
  const copy = A.load<any>(await peer.db.exportHistory(task.id), { actor })
  return { task, copy }
}

function bytesOf(copy: A.Doc<any>, change: (doc: any) => void): string {
  const next = A.change(A.clone(copy, { actor: A.getActorId(copy) }), { time: Date.now() }, change)
  return Buffer.from(A.saveSince(next, A.getHeads(copy))).toString("base64")
}

describe("the local socket", () => {
  it("answers garbage, a request without a method and an unknown method with errors naming them, and keeps the connection", async () => {
    const peer = await holder()
    const raw = await Raw.open(peer)
    raw.send("this is not json\n")
    expect(await raw.next()).toMatchObject({
      id: null,
      ok: false,
      error: { name: "LocalPeerError", message: expect.stringMatching(/not JSON/) },
    })
    raw.send(JSON.stringify({ id: 2, params: {} }) + "\n")
    expect((await raw.next()).error.message).toMatch(/needs an "id".*"method"/)
    expect((await raw.call("dropDatabase", {}, 3)).error.message).toBe('unknown method "dropDatabase"')
    expect((await raw.call("__proto__", {}, 4)).error.message).toBe('unknown method "__proto__"')
    expect((await raw.call("get", [], 5)).error.message).toMatch(/params of get must be an object/)
    expect((await raw.call("get", { id: 7 }, 6)).error.message).toMatch(/id must be a non-empty string/)
    expect((await raw.call("query", { type: "task", options: { where: "x" } }, 7)).error.message).toMatch(/where must be an object/)
    expect((await raw.call("get", { id: "nothing-here" }, 8)).error).toMatchObject({ name: "NotFoundError", id: "nothing-here" })
    const hello = await raw.call("hello", {}, 9)
    expect(hello).toMatchObject({ ok: true, result: { machineId: peer.machineId } })
  })

  it("closes a connection that sends a line longer than the limit, and serves the next one", { timeout: 30_000 }, async () => {
    const peer = await holder()
    const raw = await Raw.open(peer)
    raw.send("x".repeat(MAX_REQUEST_CHARS + 1024))
    await raw.closed
    expect(raw.answers[0]).toMatchObject({ ok: false, error: { message: expect.stringMatching(/request too long/) } })
    const next = await Raw.open(peer)
    expect((await next.call("hello", {})).ok).toBe(true)
  })

  it("refuses change bytes that break the schema, rewrite the type, or are another machine's, and applies none", async () => {
    const peer = await holder()
    const raw = await Raw.open(peer)
    const { task, copy } = await taskAndCopy(peer)
    const heads = peer.db.catalog.get(task.id)!.heads
    const apply = (bytes: string, id = task.id) => raw.call("apply", { docs: [{ id, bytes }] })

    const invalid = await apply(bytesOf(copy, doc => (doc.data.title = 5)))
    expect(invalid.error).toMatchObject({ name: "ValidationError", path: ["title"] })
    const retyped = await apply(bytesOf(copy, doc => (doc.type = new A.ImmutableString("secret"))))
    expect(retyped.error).toMatchObject({ name: "RefusedChangeError", message: expect.stringMatching(/type is fixed at its creation/) })
    const recreated = await apply(bytesOf(copy, doc => (doc.createdBy = new A.ImmutableString("f".repeat(32)))))
    expect(recreated.error.message).toMatch(/createdBy is fixed/)
    const stranger = await taskAndCopy(peer, "a".repeat(32))
    const foreign = await apply(
      bytesOf(stranger.copy, doc => (doc.data.title = "as another machine")),
      stranger.task.id,
    )
    expect(foreign.error.message).toMatch(/made as machine a{32}, not as this machine/)
    expect((await apply(Buffer.from("not automerge at all").toString("base64"))).error.message).toMatch(/not Automerge changes/)
    expect((await apply("***")).error.message).toMatch(/base64/)
    // A valid change with a bad one in the same request: neither is applied.
    const other = await peer.db.create(Task, { title: "other" })
    const otherCopy = A.load<any>(await peer.db.exportHistory(other.id), { actor: (peer.machineId + "1".repeat(16)) as A.ActorId })
    const mixed = await raw.call("apply", {
      docs: [
        { id: other.id, bytes: bytesOf(otherCopy, doc => (doc.data.title = new A.ImmutableString("fine"))) },
        { id: task.id, bytes: bytesOf(copy, doc => delete doc.data.title) },
      ],
    })
    expect(mixed.error.name).toBe("ValidationError")
    expect(peer.db.catalog.get(task.id)!.heads).toEqual(heads)
    expect((await peer.db.get(Task, other.id)).data.title).toBe("other")
    expect(peer.db.quarantined()).toEqual([])
    // The holder is fine and still applies a valid change.
    const valid = await apply(bytesOf(copy, doc => (doc.data.title = new A.ImmutableString("valid"))))
    expect(valid.result[0].data.title).toBe("valid")
    // A second change under the sequence number the valid one took (a client replaying from a stale copy).
    const replayed = await apply(bytesOf(copy, doc => (doc.data.title = new A.ImmutableString("replayed"))))
    expect(replayed.error.message).toMatch(/duplicate seq/)
    expect((await peer.db.get(Task, task.id)).data.title).toBe("valid")
  })

  it("signs creations only for this machine's actors and new ids; a forged creation is refused", async () => {
    const peer = await holder()
    const raw = await Raw.open(peer)
    const foreign = newCreation("task", "b".repeat(32) + "0".repeat(16), 1, Date.now())
    expect((await raw.call("sign", { creations: [foreign] })).error.message).toMatch(/not a session of this machine/)
    const existing = await peer.db.create(Task, { title: "here" })
    const reused = { ...newCreation("task", peer.machineId + "0".repeat(16), 1, Date.now()), id: existing.id }
    expect((await raw.call("sign", { creations: [reused] })).error.message).toMatch(/exists/)
    const creation = newCreation("task", peer.machineId + "0".repeat(16), 1, Date.now())
    const forged = buildDetached(
      creation,
      peer.db.machine,
      { title: new A.ImmutableString("forged"), votes: new A.Counter(0) },
      new Uint8Array(64),
      { time: Date.now() },
    )
    const answer = await raw.call("apply", { docs: [{ id: creation.id, bytes: Buffer.from(forged).toString("base64") }] })
    expect(answer.error.message).toMatch(/creation proof does not verify/)
    expect(peer.db.catalog.get(creation.id)).toBeUndefined()
    const { proofs } = (await raw.call("sign", { creations: [creation] })).result
    const signed = buildDetached(creation, peer.db.machine, { title: 5 as never }, Buffer.from(proofs[0], "hex"), { time: Date.now() })
    // Signed, but its data breaks the definition: still refused.
    expect((await raw.call("apply", { docs: [{ id: creation.id, bytes: Buffer.from(signed).toString("base64") }] })).error.name).toBe(
      "ValidationError",
    )
    expect(toHex(new Uint8Array(64))).toHaveLength(128)
  })

  it("closes a connection that asks for answers it never reads, and serves the next one", { timeout: 30_000 }, async () => {
    const peer = await holder()
    const big = await peer.db.create("note", { body: { $text: "x".repeat(1024 * 1024) } })
    const raw = await Raw.open(peer)
    raw.socket.pause()
    for (let id = 1; id <= 100; id++) raw.send(JSON.stringify({ id, method: "get", params: { id: big.id } }) + "\n")
    await waitFor(() => peer.local!.connections === 0, { timeoutMs: 20_000, what: "the peer to close the connection" })
    raw.socket.resume()
    await raw.closed
    expect(raw.answers.length).toBeLessThan(100)
    expect((await (await Raw.open(peer)).call("hello", {})).ok).toBe(true)
  })

  it("stops a connection's streams when it closes", async () => {
    const peer = await holder()
    const raw = await Raw.open(peer)
    expect((await raw.call("liveQuery", { type: "task" }, 1)).ok).toBe(true)
    expect((await raw.next()).stream).toBe(1)
    raw.socket.destroy()
    await raw.closed
    await peer.db.create(Task, { title: "nobody listens" })
    expect((await Raw.open(peer).then(next => next.call("hello", {}))).ok).toBe(true)
  })

  it("warns when other users can write the data directory (they could put a socket of their own in its place)", async () => {
    const dir = await tempDir("cairn-local-")
    await chmod(dir, 0o777)
    const warnings: string[] = []
    const peer = await NodePeer.open({ dir, log: message => warnings.push(message) })
    afterThisTest(() => peer.close())
    expect(warnings).toEqual([expect.stringMatching(/can be written by other users.*chmod 700/)])
  })

  const isRoot = process.getuid?.() === 0
  if (process.env.CI && !isRoot) throw new Error("the socket permission test runs as root (to try another user) in CI")

  it.skipIf(!isRoot)(
    "another user cannot connect, even where the directory lets them in; a client refuses a socket another user owns",
    async () => {
      const peer = await holder()
      const path = join(peer.directory.path, SOCKET_NAME)
      expect((await stat(path)).mode & 0o777).toBe(0o600)
      expect((await stat(peer.directory.path)).mode & 0o777).toBe(0o700)
      const tryAsNobody = () =>
        spawnSync(
          process.execPath,
          [
            "-e",
            `require("net").connect(${JSON.stringify(path)}).on("connect", () => { console.log("connected"); process.exit(0) }).on("error", e => { console.log(e.code); process.exit(0) })`,
          ],
          { uid: 65534, gid: 65534, encoding: "utf8" },
        ).stdout.trim()
      // The temporary directory around it lets anyone in: what refuses them is the data directory's mode, then the socket's.
      await chmod(dirname(peer.directory.path), 0o755)
      expect(tryAsNobody()).toBe("EACCES")
      await chmod(peer.directory.path, 0o755)
      expect(tryAsNobody()).toBe("EACCES")
      await chmod(path, 0o666)
      expect(tryAsNobody()).toBe("connected")
      await chown(path, 65534, 65534)
      await expect(LocalClient.connect(peer.directory.path)).rejects.toThrow(/belongs to another user/)
      await expect(openLocal({ dir: peer.directory.path })).rejects.toBeInstanceOf(LocalPeerError)
    },
  )
})
