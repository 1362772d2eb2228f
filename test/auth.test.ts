/**
 * Authenticated machines and per-type grants, across processes.
 */
import { afterAll, describe, expect, it } from "vitest"
import { PeerProcess, TempDirs, eventually } from "./helpers/PeerProcess.js"

const dirs = new TempDirs()
const running: PeerProcess[] = []
afterAll(async () => {
  await Promise.all(running.map(p => p.kill()))
  await dirs.cleanup()
})

async function start(options: { dir?: string; wants?: string; auth?: string } = {}): Promise<PeerProcess> {
  const peer = await PeerProcess.start({ dir: options.dir ?? (await dirs.make()), ...options })
  running.push(peer)
  return peer
}

describe("authentication and grants", () => {
  it("refuses an unknown machine, and a server the client does not trust", async () => {
    const server = await start({ auth: "trust" })
    const { url } = await server.call("listen")
    await server.call("create", { type: "task", data: { title: "private" } })
    const stranger = await start({ auth: "trust" })
    const serverInfo = await server.call("info")
    await stranger.call("trust", { publicKey: serverInfo.publicKey, read: "*", write: "*" })
    await stranger.call("connect", { url })
    const [client] = await eventually(async () => {
      const clients = await stranger.call("clients")
      return clients[0]?.status === "refused" && clients
    })
    expect(client.refusal).toMatch(/not trusted here/)
    expect(await stranger.call("catalog")).toEqual([])

    // The server trusts this machine, but the machine does not trust the server: it refuses to talk.
    const wary = await start({ auth: "trust" })
    await server.call("trust", { publicKey: (await wary.call("info")).publicKey, read: "*", write: "*" })
    await wary.call("connect", { url })
    await eventually(async () => (await wary.call("clients"))[0]?.status === "refused")
    expect(await wary.call("catalog")).toEqual([])
    await Promise.all([server.stop(), stranger.stop(), wary.stop()])
  })

  it("a machine with read on task only never receives a note, and its edits to a read-only type do not reach the server", async () => {
    const server = await start({ auth: "trust" })
    const { url } = await server.call("listen")
    const client = await start({ auth: "trust" })
    const [serverInfo, clientInfo] = await Promise.all([server.call("info"), client.call("info")])
    await server.call("trust", { publicKey: clientInfo.publicKey, read: ["task", "note"], write: ["note"] })
    await client.call("trust", { publicKey: serverInfo.publicKey, read: "*", write: "*" })
    const task = await server.call("create", { type: "task", data: { title: "read only here" } })
    const note = await server.call("create", { type: "note", data: { body: "shared note" } })
    await server.call("create", { type: "secret", data: { code: "1234" } })
    await client.call("connect", { url })
    await client.call("synced")
    const held = (await client.call("catalog")).map((e: { type: string }) => e.type).sort()
    expect(held).toEqual(["note", "task"])

    await client.call("change", { type: "task", id: task, ops: [{ op: "set", path: ["title"], value: "tampered" }] })
    await client.call("change", { type: "note", id: note, ops: [{ op: "splice", path: ["body"], index: 0, del: 0, text: "edited: " }] })
    await eventually(async () => (await server.call("get", { id: note })).data.body === "edited: shared note")
    await client.call("synced")
    expect((await server.call("get", { id: task })).data.title).toBe("read only here")
    // A task the client creates is not accepted either.
    const forged = await client.call("create", { type: "task", data: { title: "forged" } })
    await client.call("synced")
    expect(await server.call("heads", { id: forged })).toBeNull()
    await Promise.all([server.stop(), client.stop()])
  })

  it("a stolen peer id or machine id without the key gets nothing", async () => {
    const server = await start({ auth: "trust" })
    const { url } = await server.call("listen")
    const owner = await start({ auth: "trust" })
    const ownerInfo = await owner.call("info")
    await server.call("trust", { publicKey: ownerInfo.publicKey, read: "*", write: "*" })
    await server.call("create", { type: "task", data: { title: "mine" } })
    // An impostor presents the owner's public key and machine id, but cannot sign with its key.
    const { WebSocket } = await import("ws")
    const { encode, decode } = await import("cbor-x")
    const socket = new WebSocket(url)
    const frames: any[] = []
    socket.on("message", (data: Buffer) => frames.push(decode(data)))
    await new Promise(resolve => socket.on("open", resolve))
    socket.send(
      encode({
        kind: "hello",
        protocol: 1,
        peerId: `${ownerInfo.machineId}-impostor`,
        peerMetadata: {},
        info: { protocol: 1, machineId: ownerInfo.machineId, wants: "*", publicKey: ownerInfo.publicKey, nonce: "00".repeat(32) },
      }),
    )
    await eventually(() => frames.some(f => f.kind === "auth"))
    socket.send(encode({ kind: "auth", message: { t: "response", proof: "ab".repeat(64) } }))
    await eventually(() => frames.some(f => f.kind === "refuse"))
    expect(frames.find(f => f.kind === "refuse").reason).toMatch(/could not prove/)
    expect(frames.some(f => f.kind === "welcome" || f.kind === "control" || f.kind === "repo")).toBe(false)
    socket.close()
    await Promise.all([server.stop(), owner.stop()])
  })

  it("pre-shared key mode lets in the machines that know the secret", async () => {
    const server = await start({ auth: "psk:kitchen-table" })
    const { url } = await server.call("listen")
    await server.call("create", { type: "task", data: { title: "household" } })
    const member = await start({ auth: "psk:kitchen-table" })
    await member.call("connect", { url })
    await member.call("synced")
    expect((await member.call("list", { type: "task" })).length).toBe(1)
    const outsider = await start({ auth: "psk:wrong" })
    await outsider.call("connect", { url })
    await eventually(async () => (await outsider.call("clients"))[0]?.status === "refused")
    expect(await outsider.call("catalog")).toEqual([])
    await Promise.all([server.stop(), member.stop(), outsider.stop()])
  })

  it("a machine removed with untrust has its later changes refused even when another machine passes them on", async () => {
    const [server, middle, removed] = [await start({ auth: "trust" }), await start({ auth: "trust" }), await start({ auth: "trust" })]
    const [s, m, r] = await Promise.all([server.call("info"), middle.call("info"), removed.call("info")])
    const everything = { read: "*", write: "*" }
    await Promise.all([
      server.call("trust", { publicKey: m.publicKey, ...everything }),
      server.call("trust", { publicKey: r.publicKey, ...everything }),
      middle.call("trust", { publicKey: s.publicKey, ...everything }),
      middle.call("trust", { publicKey: r.publicKey, ...everything }),
      removed.call("trust", { publicKey: m.publicKey, ...everything }),
    ])
    const { url } = await server.call("listen")
    const { url: middleUrl } = await middle.call("listen")
    await middle.call("connect", { url })
    await removed.call("connect", { url: middleUrl })
    const before = await removed.call("create", { type: "task", data: { title: "before the removal" } })
    await eventually(async () => (await server.call("entry", { id: before })) !== null)
    expect(await server.call("untrust", { key: r.machineId })).toBe(true)
    // Its change and its new document reach the middle machine, which still trusts it, and go on to the server.
    await removed.call("change", { type: "task", id: before, ops: [{ op: "set", path: ["title"], value: "after" }] })
    const after = await removed.call("create", { type: "task", data: { title: "made after the removal" } })
    const own = await middle.call("create", { type: "task", data: { title: "the middle machine's own" } })
    await eventually(async () => (await middle.call("entry", { id: after })) !== null)
    await eventually(async () => (await server.call("entry", { id: own })) !== null)
    await eventually(() => server.stderr.join("").includes(`made as machine ${r.machineId}, which this peer no longer trusts`))
    expect(await server.call("entry", { id: after })).toBeNull()
    expect((await server.call("get", { id: before })).data.title).toBe("before the removal")
    await Promise.all([server.stop(), middle.stop(), removed.stop()])
  })

  it("a document whose creator is forged is refused on arrival (its change is not signed by the machine it names) and passed on to no one", async () => {
    const server = await start()
    const { url } = await server.call("listen")
    const forger = await start()
    const reader = await start()
    const victim = (await reader.call("info")).machineId
    await Promise.all([forger.call("connect", { url }), reader.call("connect", { url })])
    await Promise.all([forger.call("synced"), reader.call("synced")])
    const genuine = await forger.call("create", { type: "task", data: { title: "genuine" } })
    const forged = await forger.call("forge", { victim, type: "task", data: { title: "made by the reader, it says" } })
    expect((await forger.call("entry", { id: forged })).createdBy).toBe(victim)
    // The forger vouches for nothing of the victim's (identity/vouch.ts): the server refuses the document, says why
    // in its log, stores nothing of it; the genuine one, vouched for by the forger's own machine, lands.
    await eventually(() => server.stderr.join("").includes(`made as machine ${victim} without that machine's signature`))
    await eventually(async () => (await server.call("entry", { id: genuine })) !== null)
    expect(await server.call("entry", { id: forged })).toBeNull()
    const listed = (await server.call("list", { type: "task" })).map((d: { id: string }) => d.id)
    expect(listed).toContain(genuine)
    expect(listed).not.toContain(forged)
    await server.call("synced")
    await eventually(async () => (await reader.call("heads", { id: genuine })) !== null)
    expect(await reader.call("heads", { id: forged })).toBeNull()
    await Promise.all([server.stop(), forger.stop(), reader.stop()])
  })
})
