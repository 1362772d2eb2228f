/**
 * TCP between peers in separate processes: the same admission, grants and
 * type filtering as over WebSocket, and peers on TCP and on WebSocket
 * syncing through one server.
 */
import { afterAll, describe, expect, it } from "vitest"
import { PeerProcess, TempDirs, eventually } from "./helpers/PeerProcess.js"

const dirs = new TempDirs()
const running: PeerProcess[] = []
afterAll(async () => {
  await Promise.all(running.map(p => p.kill()))
  await dirs.cleanup()
})

async function start(options: { wants?: string; auth?: string } = {}): Promise<PeerProcess> {
  const peer = await PeerProcess.start({ dir: await dirs.make(), ...options })
  running.push(peer)
  return peer
}

const typesHeld = async (peer: PeerProcess) => (await peer.call("catalog")).map((e: { type: string }) => e.type).sort()

describe("TCP across processes", () => {
  it("a trusted machine syncs what its grants and wants allow over tcp://; an untrusted one is refused and gets nothing", async () => {
    const server = await start({ auth: "trust" })
    const { url } = await server.call("listenTcp")
    expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/)
    const task = await server.call("create", { type: "task", data: { title: "over TCP" } })
    await server.call("create", { type: "note", data: { body: "not for the laptop's wants" } })
    await server.call("create", { type: "secret", data: { code: "no read grant" } })

    const laptop = await start({ auth: "trust", wants: "task,secret" })
    const [serverInfo, laptopInfo] = await Promise.all([server.call("info"), laptop.call("info")])
    await server.call("trust", { publicKey: laptopInfo.publicKey, read: ["task", "note"], write: ["task"] })
    await laptop.call("trust", { publicKey: serverInfo.publicKey, read: "*", write: "*" })
    await laptop.call("connect", { url })
    await laptop.call("synced")
    expect(await typesHeld(laptop)).toEqual(["task"])
    expect((await laptop.call("get", { id: task })).data.title).toBe("over TCP")

    const edited = await laptop.call("create", { type: "task", data: { title: "made on the laptop" } })
    await eventually(async () => (await server.call("heads", { id: edited })) !== null)

    const stranger = await start({ auth: "trust" })
    await stranger.call("trust", { publicKey: serverInfo.publicKey, read: "*", write: "*" })
    await stranger.call("connect", { url })
    const [client] = await eventually(async () => {
      const clients = await stranger.call("clients")
      return clients[0]?.status === "refused" && clients
    })
    expect(client).toMatchObject({ url, transport: "tcp" })
    expect(client.refusal).toMatch(/not trusted here/)
    expect(await stranger.call("catalog")).toEqual([])
    await Promise.all([server.stop(), laptop.stop(), stranger.stop()])
  })

  it("a peer on TCP and a peer on WebSocket sync with each other through one server", async () => {
    const server = await start()
    const [{ url: wsUrl }, { url: tcpUrl }] = await Promise.all([server.call("listen"), server.call("listenTcp")])
    const overTcp = await start()
    const overWs = await start()
    await overTcp.call("connect", { url: tcpUrl })
    await overWs.call("connect", { url: wsUrl })
    const fromTcp = await overTcp.call("create", { type: "task", data: { title: "from the TCP side" } })
    const fromWs = await overWs.call("create", { type: "note", data: { body: "from the WebSocket side" } })
    await eventually(async () => (await overWs.call("heads", { id: fromTcp })) !== null)
    await eventually(async () => (await overTcp.call("heads", { id: fromWs })) !== null)
    expect((await overWs.call("get", { id: fromTcp })).data.title).toBe("from the TCP side")
    expect((await overTcp.call("get", { id: fromWs })).data.body).toBe("from the WebSocket side")

    await overTcp.call("change", { type: "task", id: fromTcp, ops: [{ op: "set", path: ["done"], value: true }] })
    await eventually(async () => (await overWs.call("get", { id: fromTcp })).data.done === true)
    await Promise.all([server.stop(), overTcp.stop(), overWs.stop()])
  })
})
