import { setTimeout as sleep } from "node:timers/promises"
import { createServer as createHttpServer, get as httpGet, type Server } from "node:http"
import { createServer as createTcpServer, type Socket } from "node:net"
import { Repo, type PeerId } from "@automerge/automerge-repo"
import { CloseCode, type CairnClientAdapter, type ClientStatus, type ControlEvent, type PeerEvent } from "@cairn/core/network"
import { Encoder } from "cbor-x"
import { afterEach, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { createNodeClientAdapter } from "./createNodeClientAdapter.js"
import { WebSocketServerTransport, type WebSocketServerTransportOptions } from "./WebSocketServerTransport.js"
import { waitFor } from "../../../core/test/wait.js"

const SERVER = "server" as PeerId
const CLIENT = "client" as PeerId
const cbor = new Encoder({ tagUint8Array: false, useRecords: false })

type Note = { title: string; done?: boolean }

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A server Repo behind a real WebSocket server on 127.0.0.1. */
async function startServer(options: Partial<WebSocketServerTransportOptions> = {}, peerId = SERVER) {
  const logs: string[] = []
  const transport = new WebSocketServerTransport({ log: message => logs.push(message), inbound: () => "pass", ...options })
  const repo = new Repo({ network: [transport.adapter], peerId })
  cleanups.push(
    () => repo.shutdown(),
    () => transport.close(),
  )
  const address = await transport.listen()
  return { transport, repo, address, logs }
}

function startClient(url: string, options: Partial<Parameters<typeof createNodeClientAdapter>[0]> = {}) {
  const logs: string[] = []
  const adapter = createNodeClientAdapter({ url, info: () => ({}), log: message => logs.push(message), inbound: () => "pass", ...options })
  const statuses: { status: ClientStatus; at: number }[] = []
  adapter.on("status", status => statuses.push({ status, at: Date.now() }))
  const candidates: PeerId[] = []
  adapter.on("peer-candidate", ({ peerId }) => candidates.push(peerId))
  const repo = new Repo({ network: [adapter], peerId: CLIENT })
  cleanups.push(() => repo.shutdown())
  return { adapter, repo, statuses, candidates, logs }
}

/** A bare `ws` socket, for sending what a well-behaved client never would. */
async function rawSocket(url: string) {
  const socket = new WebSocket(url)
  const closed = new Promise<{ code: number; reason: string }>(resolve =>
    socket.addEventListener("close", event => resolve({ code: event.code, reason: event.reason })),
  )
  socket.addEventListener("error", () => {})
  await new Promise<void>(resolve => socket.addEventListener("open", () => resolve()))
  cleanups.push(() => socket.terminate())
  return { socket, closed }
}

async function connected(adapter: CairnClientAdapter): Promise<void> {
  await waitFor(() => adapter.status === "connected")
}

describe("WebSocketServerTransport", () => {
  it("listens on a free port of 127.0.0.1, reports it, and answers plain HTTP with 426", async () => {
    const { address } = await startServer()
    expect(address.host).toBe("127.0.0.1")
    expect(address.port).toBeGreaterThan(0)
    expect(address.url).toBe(`ws://127.0.0.1:${address.port}/`)
    const status = await new Promise<number | undefined>(resolve =>
      httpGet(`http://127.0.0.1:${address.port}/`, response => {
        response.resume()
        resolve(response.statusCode)
      }),
    )
    expect(status).toBe(426)
  })

  it("syncs a document both ways between two Repos", async () => {
    const server = await startServer()
    const client = startClient(server.address.url)
    await connected(client.adapter)

    const onServer = server.repo.create<Note>({ title: "from the server" })
    const onClient = await client.repo.find<Note>(onServer.url)
    expect(onClient.doc().title).toBe("from the server")
    onClient.change(doc => {
      doc.done = true
    })
    await waitFor(() => onServer.doc().done === true)

    const created = client.repo.create<Note>({ title: "from the client" })
    const seenByServer = await server.repo.find<Note>(created.url)
    expect(seenByServer.doc().title).toBe("from the client")
  })

  it("carries control messages both ways with their Uint8Arrays intact", async () => {
    const server = await startServer()
    const client = startClient(server.address.url)
    await connected(client.adapter)
    const received: ControlEvent[] = []
    server.transport.adapter.on("control", event => received.push(event))
    client.adapter.on("control", event => received.push(event))

    const bytes = Uint8Array.from({ length: 300 }, (_, i) => i % 256)
    client.adapter.sendControl(SERVER, { kind: "heads", heads: [bytes] })
    server.transport.adapter.sendControl(CLIENT, { kind: "batch", docs: [{ id: "a", bytes }] })
    await waitFor(() => received.length === 2)

    const toServer = received.find(event => event.peerId === CLIENT)!.message as { heads: Uint8Array[] }
    const toClient = received.find(event => event.peerId === SERVER)!.message as { docs: { bytes: Uint8Array }[] }
    for (const payload of [toServer.heads[0]!, toClient.docs[0]!.bytes]) {
      expect(payload).toBeInstanceOf(Uint8Array)
      expect([...payload]).toEqual([...bytes])
    }
  })

  it("brings the hello info to the server and the welcome info to the client", async () => {
    const hellos: unknown[] = []
    const serverPeers: PeerEvent[] = []
    const server = await startServer({
      accept: (hello, remote) => {
        hellos.push({ info: hello.info, address: remote.address })
        return { ok: true, info: { machineId: "m-server", relay: true } }
      },
    })
    server.transport.adapter.on("peer", event => serverPeers.push(event))
    const client = startClient(server.address.url, { info: async () => ({ machineId: "m-client", types: ["task"] }) })
    const clientPeers: PeerEvent[] = []
    client.adapter.on("peer", event => clientPeers.push(event))
    await connected(client.adapter)

    expect(hellos).toEqual([{ info: { machineId: "m-client", types: ["task"] }, address: "127.0.0.1" }])
    expect(serverPeers).toMatchObject([{ peerId: CLIENT, state: "connected", info: { machineId: "m-client", types: ["task"] } }])
    expect(client.adapter.remotePeerId).toBe(SERVER)
    expect(client.adapter.remoteInfo).toEqual({ machineId: "m-server", relay: true })
    expect(clientPeers).toMatchObject([{ peerId: SERVER, state: "connected", info: { machineId: "m-server", relay: true } }])
  })

  it("refuses through the accept hook: the client says refused and never sees a peer", async () => {
    const server = await startServer({ accept: () => ({ ok: false, reason: "this machine is not trusted" }) })
    const client = startClient(server.address.url, { backoff: { initialMs: 10 } })
    await client.adapter.whenReady()
    expect(client.adapter.status).toBe("refused")
    expect(client.adapter.refusalReason).toBe("this machine is not trusted")
    await sleep(100)
    expect(client.statuses.map(entry => entry.status)).toEqual(["connecting", "refused"])
    expect(client.candidates).toEqual([])
    expect(server.transport.adapter.peers).toEqual([])
  })

  it("reconnects with growing delays after the server restarts on the same port, then syncs again", async () => {
    const first = await startServer()
    const client = startClient(first.address.url, { backoff: { initialMs: 20, factor: 2, jitter: 0 } })
    await connected(client.adapter)
    const note = client.repo.create<Note>({ title: "survives a restart" })
    await first.repo.find<Note>(note.url)

    await first.transport.close()
    await first.repo.shutdown()
    await waitFor(() => client.adapter.status === "disconnected")
    const downAt = Date.now()
    await sleep(400)

    const second = await startServer({ port: first.address.port }, "server-2" as PeerId)
    await connected(client.adapter)
    const attempts = client.statuses.filter(entry => entry.status === "connecting" && entry.at >= downAt).map(entry => entry.at)
    expect(attempts.length).toBeGreaterThanOrEqual(3)
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!)
    expect(gaps.at(-1)!).toBeGreaterThan(gaps[0]!)
    expect(client.adapter.remotePeerId).toBe("server-2")

    const onSecond = await second.repo.find<Note>(note.url)
    expect(onSecond.doc().title).toBe("survives a restart")
    onSecond.change(doc => {
      doc.done = true
    })
    await waitFor(() => note.doc().done === true)
  })

  it("listens again after close(), serving the same Repo to the same clients", async () => {
    const probe = createTcpServer()
    await new Promise<void>(resolve => probe.listen(0, "127.0.0.1", resolve))
    const { port } = probe.address() as { port: number }
    await new Promise(resolve => probe.close(resolve))

    const server = await startServer({ port })
    const client = startClient(server.address.url, { backoff: { initialMs: 10 } })
    await connected(client.adapter)
    await server.transport.close()
    await waitFor(() => client.adapter.status !== "connected")
    expect(server.transport.address).toBeUndefined()

    expect(await server.transport.listen()).toEqual(server.address)
    await connected(client.adapter)
    const note = server.repo.create<Note>({ title: "same Repo" })
    expect((await client.repo.find<Note>(note.url)).doc().title).toBe("same Repo")
  })

  it("disconnects while connecting without throwing", async () => {
    // A TCP server that accepts and then says nothing keeps the WebSocket handshake pending.
    const sockets: Socket[] = []
    const silent = createTcpServer(socket => sockets.push(socket))
    await new Promise<void>(resolve => silent.listen(0, "127.0.0.1", resolve))
    cleanups.push(
      () =>
        new Promise(resolve => {
          for (const socket of sockets) socket.destroy()
          silent.close(resolve)
        }),
    )
    const { port } = silent.address() as { port: number }

    const client = startClient(`ws://127.0.0.1:${port}/`)
    await waitFor(() => sockets.length === 1)
    expect(client.adapter.status).toBe("connecting")
    expect(() => client.adapter.disconnect()).not.toThrow()
    expect(client.adapter.status).toBe("disconnected")

    const nowhere = startClient(`ws://127.0.0.1:${port + 1}/`)
    expect(() => nowhere.adapter.disconnect()).not.toThrow()
    // ws reports the aborted handshakes on a later tick; they must not surface as uncaught errors.
    await sleep(100)
    expect(sockets).toHaveLength(1)
  })

  it.each<[string, (socket: WebSocket) => void, number, RegExp]>([
    ["invalid CBOR", socket => socket.send(new Uint8Array([0xff, 0xfe, 0x00])), CloseCode.BAD_FRAME, /invalid CBOR/],
    ["a frame over the size limit", socket => socket.send(new Uint8Array(100_000)), 1009, /Max payload size exceeded/],
    ["a valid frame of the wrong shape", socket => socket.send(cbor.encode({ kind: "hello", protocol: 1 })), CloseCode.BAD_FRAME, /peerId/],
    [
      "a frame before hello",
      socket => socket.send(cbor.encode({ kind: "control", message: 1 })),
      CloseCode.BAD_FRAME,
      /expected hello, got control/,
    ],
  ])("closes a connection that sends %s, and keeps serving the others", async (_, misbehave, code, logged) => {
    const server = await startServer({ maxFrameBytes: 64 * 1024 })
    const client = startClient(server.address.url)
    await connected(client.adapter)

    const hostile = await rawSocket(server.address.url)
    misbehave(hostile.socket)
    expect((await hostile.closed).code).toBe(code)
    await waitFor(() => server.logs.some(line => logged.test(line)))

    expect(client.adapter.status).toBe("connected")
    const note = server.repo.create<Note>({ title: "still serving" })
    expect((await client.repo.find<Note>(note.url)).doc().title).toBe("still serving")
  })

  it("counts bytes and frames per connection and in total", async () => {
    const server = await startServer()
    const client = startClient(server.address.url)
    await connected(client.adapter)
    const before = client.adapter.stats(SERVER)!
    // Random text, so Automerge's compression cannot shrink it below 10 KB.
    const title = Array.from({ length: 10_000 }, () => String.fromCharCode(33 + Math.floor(Math.random() * 90))).join("")
    const note = server.repo.create<Note>({ title })
    await client.repo.find<Note>(note.url)
    await sleep(100)

    const onClient = client.adapter.stats(SERVER)!
    const onServer = server.transport.adapter.stats(CLIENT)!
    expect(onClient.bytesIn).toBeGreaterThan(before.bytesIn + 10_000)
    expect(onClient.framesOut).toBeGreaterThan(before.framesOut)
    expect(onServer.bytesOut).toBe(onClient.bytesIn)
    expect(onServer.bytesIn).toBe(onClient.bytesOut)
    expect(client.adapter.stats().bytesIn).toBeGreaterThanOrEqual(onClient.bytesIn)
  })

  it("shares an existing HTTP server on a path and leaves the rest of it alone", async () => {
    const http: Server = createHttpServer((_request, response) => response.end("dashboard"))
    http.on("upgrade", (request, socket) => {
      if (request.url === "/other") socket.end("HTTP/1.1 418 I'm a teapot\r\n\r\n")
    })
    cleanups.push(
      () =>
        new Promise(resolve => {
          http.closeAllConnections()
          http.close(resolve)
        }),
    )
    const server = await startServer({ server: http, path: "/sync" })
    expect(server.address.url).toBe(`ws://127.0.0.1:${server.address.port}/sync`)

    const client = startClient(server.address.url)
    await connected(client.adapter)
    const other = new WebSocket(`ws://127.0.0.1:${server.address.port}/other`)
    const otherStatus = await new Promise<number | undefined>(resolve => {
      other.on("unexpected-response", (_request, response) => resolve(response.statusCode))
      other.addEventListener("error", () => {})
    })
    expect(otherStatus).toBe(418)

    await server.transport.close()
    const page = await new Promise<string>(resolve =>
      httpGet(`http://127.0.0.1:${server.address.port}/`, response => {
        let body = ""
        response.on("data", chunk => (body += chunk))
        response.on("end", () => resolve(body))
      }),
    )
    expect(page).toBe("dashboard")
  })

  it("rejects listen() when the port is taken", async () => {
    const { address } = await startServer()
    const second = new WebSocketServerTransport({ port: address.port, inbound: () => "pass" })
    await expect(second.listen()).rejects.toThrow(/EADDRINUSE/)
  })
})
