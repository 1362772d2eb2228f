import { setTimeout as sleep } from "node:timers/promises"
import { Repo, type PeerId } from "@automerge/automerge-repo"
import { afterEach, describe, expect, it, vi } from "vitest"
import { CairnClientAdapter, type CairnClientAdapterOptions, type ClientStatus } from "./CairnClientAdapter.js"
import type { ControlEvent } from "./CairnNetworkAdapter.js"
import { CairnServerAdapter, type CairnServerAdapterOptions } from "./CairnServerAdapter.js"
import { NoWebSocketError, NotConnectedError } from "./errors.js"
import { CloseCode } from "./closeCodes.js"
import { encodeFrame } from "./frames.js"
import { MemorySocket } from "./MemorySocket.js"
import { waitFor } from "../../test/wait.js"
import { zlibCompression } from "../../test/zlibCompression.js"

const SERVER = "server" as PeerId
const CLIENT = "client" as PeerId

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  vi.unstubAllGlobals()
})

/**
 * A server adapter reached through in-memory sockets. `up = false` makes
 * dials fail the way they do when nothing listens on the port.
 */
function memoryServer(options: Partial<CairnServerAdapterOptions> = {}) {
  const server = new CairnServerAdapter({ log: () => {}, inbound: () => "pass", ...options })
  const dials: number[] = []
  const world = {
    server,
    up: true,
    dials,
    createSocket: () => {
      dials.push(Date.now())
      if (!world.up) {
        const socket = MemorySocket.unanswered()
        setTimeout(() => socket.close())
        return socket
      }
      const { client, server: socket } = MemorySocket.pair()
      server.acceptSocket(socket, { address: "memory" })
      return client
    },
  }
  cleanups.push(() => server.disconnect())
  return world
}

function newClient(createSocket: () => MemorySocket, options: Partial<CairnClientAdapterOptions> = {}) {
  const logs: string[] = []
  const client = new CairnClientAdapter({
    url: "memory://server",
    createSocket,
    info: () => ({ machineId: "m-client" }),
    log: message => logs.push(message),
    inbound: () => "pass",
    ...options,
  })
  const statuses: ClientStatus[] = []
  client.on("status", status => statuses.push(status))
  const candidates: PeerId[] = []
  client.on("peer-candidate", ({ peerId }) => candidates.push(peerId))
  cleanups.push(() => client.disconnect())
  return { client, statuses, candidates, logs }
}

describe("CairnClientAdapter", () => {
  it("says hello, waits for the welcome, then offers the server to the Repo", async () => {
    const world = memoryServer({ accept: hello => ({ ok: true, info: { echo: hello.info.machineId } }) })
    world.server.connect(SERVER, {})
    const { client, statuses, candidates } = newClient(world.createSocket, { info: async () => ({ machineId: "m-1" }) })
    const peerEvents: unknown[] = []
    client.on("peer", event => peerEvents.push({ ...event, candidatesSoFar: candidates.length }))
    client.connect(CLIENT, {})
    await client.whenReady()
    expect(client.status).toBe("connected")
    expect(statuses).toEqual(["connecting", "connected"])
    expect(client.remotePeerId).toBe(SERVER)
    expect(client.remoteInfo).toEqual({ echo: "m-1" })
    expect(candidates).toEqual([SERVER])
    expect(peerEvents).toEqual([
      { peerId: SERVER, peerMetadata: {}, info: { echo: "m-1" }, connectionId: expect.any(Number), state: "connected", candidatesSoFar: 0 },
    ])
    expect(world.server.peers.map(peer => peer.info)).toEqual([{ machineId: "m-1" }])
  })

  it("syncs a document both ways between two Repos and carries control messages", async () => {
    const world = memoryServer()
    const serverRepo = new Repo({ network: [world.server], peerId: SERVER })
    const { client } = newClient(world.createSocket)
    const clientRepo = new Repo({ network: [client], peerId: CLIENT })
    cleanups.push(
      () => serverRepo.shutdown(),
      () => clientRepo.shutdown(),
    )
    await client.whenReady()

    const onServer = serverRepo.create<{ title: string; done?: boolean }>({ title: "write tests" })
    const onClient = await clientRepo.find<{ title: string; done?: boolean }>(onServer.url)
    expect(onClient.doc().title).toBe("write tests")
    onClient.change(doc => {
      doc.done = true
    })
    await waitFor(() => onServer.doc().done === true)

    const received: ControlEvent[] = []
    world.server.on("control", event => received.push(event))
    client.on("control", event => received.push(event))
    client.sendControl(SERVER, { heads: new Uint8Array([1, 2, 3]) })
    world.server.sendControl(CLIENT, { batch: [new Uint8Array([9])] })
    await waitFor(() => received.length === 2)
    expect(received).toContainEqual({ peerId: CLIENT, connectionId: expect.any(Number), message: { heads: new Uint8Array([1, 2, 3]) } })
    expect(received).toContainEqual({ peerId: SERVER, connectionId: expect.any(Number), message: { batch: [new Uint8Array([9])] } })
  })

  it.each([
    ["both offer it", true, true],
    ["only the server offers it", true, false],
    ["only the client offers it", false, true],
  ])("compresses large frames both ways when %s, and only then", async (_, onServer, onClient) => {
    const { codec } = zlibCompression()
    const world = memoryServer(onServer ? { compression: codec } : {})
    world.server.connect(SERVER, {})
    const { client } = newClient(world.createSocket, onClient ? { compression: codec } : {})
    client.connect(CLIENT, {})
    await client.whenReady()
    const received: ControlEvent[] = []
    world.server.on("control", event => received.push(event))
    client.on("control", event => received.push(event))
    const batch = { docs: Array.from({ length: 100 }, (_, i) => ({ id: `doc-${i}`, bytes: new Uint8Array(300).fill(i % 5) })) }
    const before = { client: client.stats(), server: world.server.stats() }
    client.sendControl(SERVER, batch)
    world.server.sendControl(CLIENT, batch)
    await waitFor(() => received.length === 2)
    expect(received.map(event => event.message)).toEqual([batch, batch])
    const sent = {
      client: client.stats().bytesOut - before.client.bytesOut,
      server: world.server.stats().bytesOut - before.server.bytesOut,
    }
    const encoded = encodeFrame({ kind: "control", message: batch }).byteLength
    const expected = onServer && onClient ? encoded / 4 : encoded
    if (onServer && onClient) {
      expect(sent.client).toBeLessThan(expected)
      expect(sent.server).toBeLessThan(expected)
    } else {
      expect(sent).toEqual({ client: encoded, server: encoded })
    }
  })

  it("is ready after the grace timeout when the server does not answer", async () => {
    const { client, candidates } = newClient(() => MemorySocket.unanswered(), { readyTimeoutMs: 30 })
    client.connect(CLIENT, {})
    expect(client.isReady()).toBe(false)
    const started = Date.now()
    await client.whenReady()
    expect(Date.now() - started).toBeGreaterThanOrEqual(25)
    expect(client.status).toBe("connecting")
    expect(candidates).toEqual([])
  })

  it("disconnects while connecting without throwing, and stops", async () => {
    const dials: number[] = []
    const { client } = newClient(
      () => {
        dials.push(1)
        return MemorySocket.unanswered()
      },
      { backoff: { initialMs: 1 } },
    )
    client.connect(CLIENT, {})
    expect(client.status).toBe("connecting")
    expect(() => client.disconnect()).not.toThrow()
    expect(client.status).toBe("disconnected")
    await client.whenReady()
    await sleep(30)
    expect(dials).toHaveLength(1)
  })

  it("retries with exponential backoff, and starts the backoff again after a welcome", async () => {
    const world = memoryServer()
    world.server.connect(SERVER, {})
    world.up = false
    const { client, statuses } = newClient(world.createSocket, { backoff: { initialMs: 20, factor: 2, jitter: 0 } })
    client.connect(CLIENT, {})
    await waitFor(() => world.dials.length === 4)
    world.up = true
    await waitFor(() => client.status === "connected")
    const gaps = world.dials.slice(1).map((at, i) => at - world.dials[i]!)
    expect(gaps[0]).toBeGreaterThanOrEqual(18)
    expect(gaps[1]).toBeGreaterThanOrEqual(38)
    expect(gaps[2]).toBeGreaterThanOrEqual(78)
    expect(statuses.slice(0, 3)).toEqual(["connecting", "disconnected", "connecting"])

    const dialsBefore = world.dials.length
    world.server.disconnect()
    world.server.connect(SERVER, {})
    await waitFor(() => client.status === "disconnected")
    await waitFor(() => client.status === "connected")
    expect(world.dials.length).toBe(dialsBefore + 1)
    // The backoff started again from 20 ms instead of going on from 160 ms.
    expect(world.dials.at(-1)! - world.dials.at(-2)!).toBeLessThan(Math.max(...gaps))
  })

  it("retries when making the socket throws or the hello info fails", async () => {
    const world = memoryServer()
    world.server.connect(SERVER, {})
    let attempts = 0
    const { client, logs } = newClient(
      () => {
        if (++attempts === 1) throw new Error("bad url")
        return world.createSocket()
      },
      {
        backoff: { initialMs: 5 },
        info: () => {
          if (attempts === 2) throw new Error("identity not loaded")
          return {}
        },
      },
    )
    client.connect(CLIENT, {})
    await waitFor(() => client.status === "connected")
    expect(attempts).toBe(3)
    expect(logs.join("\n")).toMatch(/bad url/)
    expect(logs.join("\n")).toMatch(/identity not loaded/)
  })

  it("stops on a refusal, never offers the server to the Repo, and tries again on reconnect()", async () => {
    let allow = false
    const world = memoryServer({ accept: () => (allow ? { ok: true, info: {} } : { ok: false, reason: "not invited" }) })
    world.server.connect(SERVER, {})
    const { client, statuses, candidates } = newClient(world.createSocket, { backoff: { initialMs: 1 } })
    client.connect(CLIENT, {})
    await client.whenReady()
    expect(client.status).toBe("refused")
    expect(client.refusalReason).toBe("not invited")
    await sleep(30)
    expect(world.dials).toHaveLength(1)
    expect(candidates).toEqual([])
    expect(statuses).toEqual(["connecting", "refused"])

    allow = true
    client.reconnect()
    await waitFor(() => client.status === "connected")
    expect(client.refusalReason).toBeUndefined()
    expect(candidates).toEqual([SERVER])
  })

  it("answers the server's authentication challenge", async () => {
    const world = memoryServer({
      accept: async (_hello, _remote, auth) => {
        auth.send({ nonce: new Uint8Array([3]) })
        const reply = (await auth.receive()) as { proof: Uint8Array }
        return reply.proof[0] === 6 ? { ok: true, info: {} } : { ok: false, reason: "wrong proof" }
      },
    })
    world.server.connect(SERVER, {})
    const { client } = newClient(world.createSocket, {
      answerAuth: message => ({ proof: (message as { nonce: Uint8Array }).nonce.map(byte => byte * 2) }),
    })
    client.connect(CLIENT, {})
    await waitFor(() => client.status === "connected")

    const { client: cannot } = newClient(world.createSocket)
    cannot.connect("other" as PeerId, {})
    await waitFor(() => cannot.status === "refused")
    expect(cannot.refusalReason).toMatch(/no answerAuth/)
  })

  it("is refused, and stops retrying, when another connection takes its peer id", async () => {
    const world = memoryServer()
    world.server.connect(SERVER, {})
    const { client: first } = newClient(world.createSocket, { backoff: { initialMs: 1 } })
    const { client: second } = newClient(world.createSocket, { backoff: { initialMs: 1 } })
    first.connect(CLIENT, {})
    await waitFor(() => first.status === "connected")
    second.connect(CLIENT, {})
    await waitFor(() => first.status === "refused")
    expect(first.refusalReason).toMatch(/replaced/)
    await sleep(30)
    expect(second.status).toBe("connected")
  })

  it("closes a connection whose server breaks the protocol, and tries again", async () => {
    const ends: MemorySocket[] = []
    const { client, logs } = newClient(
      () => {
        const { client: socket, server: end } = MemorySocket.pair()
        ends.push(end)
        return socket
      },
      { backoff: { initialMs: 5 } },
    )
    const closes: number[] = []
    client.connect(CLIENT, {})
    await waitFor(() => ends.length === 1)
    ends[0]!.addEventListener("close", event => closes.push(event.code))
    await sleep(10)
    ends[0]!.send(encodeFrame({ kind: "control", message: "before the welcome" }))
    await waitFor(() => ends.length === 2)
    expect(closes).toEqual([CloseCode.BAD_FRAME])
    expect(logs.join("\n")).toMatch(/expected welcome, got control/)
    expect(client.status).toBe("connecting")
  })

  it("throws NotConnectedError for control messages to a peer it is not connected to", () => {
    const { client } = newClient(() => MemorySocket.unanswered())
    expect(() => client.sendControl(SERVER, {})).toThrow(NotConnectedError)
  })

  it("uses the global WebSocket by default, and says so when there is none", async () => {
    vi.stubGlobal("WebSocket", undefined)
    expect(() => new CairnClientAdapter({ url: "ws://x", info: () => ({}), inbound: () => "pass" })).toThrow(NoWebSocketError)

    const urls: string[] = []
    vi.stubGlobal(
      "WebSocket",
      class {
        constructor(url: string) {
          urls.push(url)
          // biome-ignore lint/correctness/noConstructorReturn: stands in for the global WebSocket, whose instance is the socket the adapter dials
          return MemorySocket.unanswered()
        }
      },
    )
    const client = new CairnClientAdapter({ url: "ws://example.test/sync", info: () => ({}), log: () => {}, inbound: () => "pass" })
    cleanups.push(() => client.disconnect())
    client.connect(CLIENT, {})
    expect(urls).toEqual(["ws://example.test/sync"])
  })
})
