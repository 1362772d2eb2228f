import { setTimeout as sleep } from "node:timers/promises"
import { generateAutomergeUrl, parseAutomergeUrl, type PeerId } from "@automerge/automerge-repo"
import { Encoder } from "cbor-x"
import { afterEach, describe, expect, it } from "vitest"
import type { ControlEvent } from "./CairnNetworkAdapter.js"
import { CairnServerAdapter, type CairnServerAdapterOptions, type Hello } from "./CairnServerAdapter.js"
import { CloseCode } from "./closeCodes.js"
import { HandshakeError, NotConnectedError } from "./errors.js"
import { decodeFrame, encodeFrame, type Frame } from "./frames.js"
import { MemorySocket } from "./MemorySocket.js"
import { waitFor } from "../../test/wait.js"
import { zlibCompression } from "../../test/zlibCompression.js"
import { deflateRawSync } from "node:zlib"

const SERVER = "server" as PeerId

const servers: CairnServerAdapter[] = []

function startServer(options: Partial<CairnServerAdapterOptions> = {}) {
  const logs: string[] = []
  const server = new CairnServerAdapter({ log: message => logs.push(message), inbound: () => "pass", ...options })
  const events: string[] = []
  server.on("peer", event => events.push(`${event.state} ${event.peerId}`))
  server.on("peer-candidate", ({ peerId }) => events.push(`candidate ${peerId}`))
  server.on("peer-disconnected", ({ peerId }) => events.push(`gone ${peerId}`))
  server.connect(SERVER, {})
  servers.push(server)
  return { server, logs, events }
}

/** A hand-driven client that speaks frames (or anything else) to the server. */
async function rawClient(server: CairnServerAdapter) {
  const { client, server: socket } = MemorySocket.pair()
  server.acceptSocket(socket, { address: "10.0.0.7" })
  const frames: Frame[] = []
  const state: { closed?: { code: number; reason: string } } = {}
  client.addEventListener("message", event => frames.push(decodeFrame(new Uint8Array(event.data as ArrayBuffer))))
  client.addEventListener("close", event => (state.closed = event))
  await new Promise<void>(resolve => client.addEventListener("open", resolve))
  return {
    socket: client,
    frames,
    state,
    send: (frame: Frame) => client.send(encodeFrame(frame)),
    hello: (peerId = "client", info: Hello["info"] = {}, protocol = 1, compression?: string[]) => {
      const offer = compression ? { compression } : {}
      client.send(encodeFrame({ kind: "hello", protocol, peerId: peerId as PeerId, peerMetadata: {}, info, ...offer }))
    },
    closedWith: async (code: number) => {
      await waitFor(() => state.closed !== undefined)
      expect(state.closed?.code).toBe(code)
      return state.closed!.reason
    },
  }
}

afterEach(() => {
  for (const server of servers.splice(0)) server.disconnect()
})

describe("CairnServerAdapter", () => {
  it("welcomes a hello with the accept hook's info, and tells the app before the Repo", async () => {
    const seen: { hello: Hello; address: string | undefined }[] = []
    const { server, events } = startServer({
      accept: (hello, remote) => {
        seen.push({ hello, address: remote.address })
        return { ok: true, info: { machineId: "m-server" } }
      },
    })
    const client = await rawClient(server)
    client.hello("client", { types: ["task"], machineId: "m-client" })
    await waitFor(() => client.frames.length > 0)
    expect(client.frames[0]).toEqual({ kind: "welcome", peerId: SERVER, peerMetadata: {}, info: { machineId: "m-server" } })
    expect(seen).toEqual([
      {
        hello: { protocol: 1, peerId: "client", peerMetadata: {}, info: { types: ["task"], machineId: "m-client" } },
        address: "10.0.0.7",
      },
    ])
    expect(events).toEqual(["connected client", "candidate client"])
    expect(server.peers).toEqual([
      { peerId: "client", peerMetadata: {}, info: { types: ["task"], machineId: "m-client" }, connectionId: expect.any(Number) },
    ])
  })

  it("refuses another protocol version without asking the accept hook", async () => {
    let asked = false
    const { server, events } = startServer({
      accept: () => {
        asked = true
        return { ok: true, info: {} }
      },
    })
    const client = await rawClient(server)
    client.hello("client", {}, 2)
    expect(await client.closedWith(CloseCode.REFUSED)).toMatch(/unsupported protocol version 2/)
    expect(client.frames).toEqual([{ kind: "refuse", reason: expect.stringMatching(/this server speaks 1/) }])
    expect(asked).toBe(false)
    expect(events).toEqual([])
  })

  it("refuses with the accept hook's reason, and never announces the peer", async () => {
    const { server, events, logs } = startServer({ accept: () => ({ ok: false, reason: "unknown machine" }) })
    const client = await rawClient(server)
    client.hello()
    expect(await client.closedWith(CloseCode.REFUSED)).toBe("unknown machine")
    expect(client.frames).toEqual([{ kind: "refuse", reason: "unknown machine" }])
    expect(events).toEqual([])
    expect(logs.join("\n")).toMatch(/refused: unknown machine/)
  })

  it("refuses a client that claims the server's own peer id", async () => {
    const { server } = startServer()
    const client = await rawClient(server)
    client.hello(SERVER)
    expect(await client.closedWith(CloseCode.REFUSED)).toMatch(/this server's own/)
  })

  it("refuses, without details, when the accept hook throws", async () => {
    const { server, logs } = startServer({
      accept: () => {
        throw new Error("database locked")
      },
    })
    const client = await rawClient(server)
    client.hello()
    expect(await client.closedWith(CloseCode.REFUSED)).toMatch(/could not decide/)
    expect(logs.join("\n")).toMatch(/accept hook failed: database locked/)
  })

  it("runs a challenge-response through the auth exchange before deciding", async () => {
    const { server } = startServer({
      accept: async (_hello, _remote, auth) => {
        auth.send({ challenge: new Uint8Array([7, 7]) })
        const answer = (await auth.receive()) as { signature: Uint8Array }
        return answer.signature[0] === 14 ? { ok: true, info: { trusted: true } } : { ok: false, reason: "bad signature" }
      },
    })
    const client = await rawClient(server)
    client.hello()
    await waitFor(() => client.frames.length === 1)
    const challenge = client.frames[0] as { kind: "auth"; message: { challenge: Uint8Array } }
    expect(challenge.kind).toBe("auth")
    client.send({ kind: "auth", message: { signature: challenge.message.challenge.map(byte => byte * 2) } })
    await waitFor(() => client.frames.length === 2)
    expect(client.frames[1]).toMatchObject({ kind: "welcome", info: { trusted: true } })
  })

  it("rejects the auth exchange's receive when the client leaves mid-handshake", async () => {
    let failure: unknown
    const { server } = startServer({
      accept: async (_hello, _remote, auth) => {
        try {
          await auth.receive()
        } catch (error) {
          failure = error
        }
        return { ok: false, reason: "gone" }
      },
    })
    const client = await rawClient(server)
    client.hello()
    await sleep(20)
    client.socket.close()
    await waitFor(() => failure !== undefined)
    expect(failure).toBeInstanceOf(HandshakeError)
  })

  it.each<[string, (client: Awaited<ReturnType<typeof rawClient>>) => void, RegExp]>([
    ["a frame before hello", client => client.send({ kind: "control", message: "hi" }), /expected hello, got control/],
    ["invalid CBOR", client => client.socket.send(new Uint8Array([0xff, 0x00, 0x13])), /invalid CBOR/],
    [
      "a valid frame of the wrong shape",
      client => client.socket.send(new Encoder({ useRecords: false }).encode({ kind: "hello", protocol: "1" })),
      /protocol must be a number/,
    ],
    ["a text message", client => client.socket.sendText("hello"), /frames are binary CBOR/],
    ["a frame over the limit", client => client.send({ kind: "control", message: new Uint8Array(5000) }), /exceeds the limit of 4096/],
  ])("closes the connection that sends %s, and only that one", async (_, misbehave, reason) => {
    const { server, logs } = startServer({ maxFrameBytes: 4096 })
    const good = await rawClient(server)
    good.hello("good")
    await waitFor(() => good.frames.length === 1)
    const bad = await rawClient(server)
    misbehave(bad)
    expect(await bad.closedWith(CloseCode.BAD_FRAME)).toMatch(reason)
    expect(logs.join("\n")).toMatch(reason)
    expect(good.state.closed).toBeUndefined()
    server.sendControl("good" as PeerId, { still: "here" })
    await waitFor(() => good.frames.length === 2)
    expect(good.frames[1]).toEqual({ kind: "control", message: { still: "here" } })
  })

  it("closes a connection whose repo messages claim another sender", async () => {
    const { server } = startServer()
    const messages: unknown[] = []
    server.on("message", message => messages.push(message))
    const client = await rawClient(server)
    client.hello("mallory")
    await waitFor(() => client.frames.length === 1)
    const { documentId } = parseAutomergeUrl(generateAutomergeUrl())
    client.send({
      kind: "repo",
      message: { type: "request", senderId: "alice" as PeerId, targetId: SERVER, documentId, data: new Uint8Array([1]) },
    })
    expect(await client.closedWith(CloseCode.BAD_FRAME)).toMatch(/from alice to server on mallory's connection/)
    expect(messages).toEqual([])
  })

  it("closes a connection that sends no hello in time", async () => {
    const { server } = startServer({ handshakeTimeoutMs: 50 })
    const client = await rawClient(server)
    expect(await client.closedWith(CloseCode.TIMEOUT)).toMatch(/no handshake within 50 ms/)
  })

  it("replaces an older connection of the same peer id, refusing the old one", async () => {
    const { server, events } = startServer()
    const first = await rawClient(server)
    first.hello("twin", { n: 1 })
    await waitFor(() => first.frames.length === 1)
    const second = await rawClient(server)
    second.hello("twin", { n: 2 })
    expect(await first.closedWith(CloseCode.REPLACED)).toMatch(/replaced/)
    expect(first.frames[1]).toEqual({ kind: "refuse", reason: expect.stringMatching(/replaced/) })
    await waitFor(() => second.frames.length === 1)
    expect(events).toEqual(["connected twin", "candidate twin", "gone twin", "disconnected twin", "connected twin", "candidate twin"])
    expect(server.peers.map(peer => peer.info)).toEqual([{ n: 2 }])
    expect(second.state.closed).toBeUndefined()
  })

  it("pings a quiet client and drops one that does not answer", async () => {
    const { server } = startServer({ keepAliveMs: 40 })
    const client = await rawClient(server)
    client.hello()
    await waitFor(() => client.frames.some(frame => frame.kind === "ping"))
    expect(await client.closedWith(CloseCode.TIMEOUT)).toMatch(/no answer to a ping/)
  })

  it("answers pings", async () => {
    const { server } = startServer()
    const client = await rawClient(server)
    client.send({ kind: "ping" })
    await waitFor(() => client.frames.length === 1)
    expect(client.frames).toEqual([{ kind: "pong" }])
  })

  it("delivers control messages and counts traffic per peer and in total", async () => {
    const { server } = startServer()
    const control: ControlEvent[] = []
    server.on("control", event => control.push(event))
    const client = await rawClient(server)
    client.hello("c")
    await waitFor(() => client.frames.length === 1)
    client.send({ kind: "control", message: { bytes: new Uint8Array([1, 2, 3]) } })
    await waitFor(() => control.length === 1)
    expect(control).toEqual([{ peerId: "c", connectionId: expect.any(Number), message: { bytes: new Uint8Array([1, 2, 3]) } }])
    const stats = server.stats("c" as PeerId)!
    expect(stats.framesIn).toBe(2)
    expect(stats.framesOut).toBe(1)
    expect(stats.bytesIn).toBeGreaterThan(10)
    expect(server.stats()).toEqual(stats)
    expect(() => server.sendControl("nobody" as PeerId, {})).toThrow(NotConnectedError)
  })

  it("agrees on compression only when the client offers the server's", async () => {
    const { codec } = zlibCompression()
    const { server } = startServer({ compression: codec })
    const offering = await rawClient(server)
    offering.hello("offering", {}, 1, ["zstd", "deflate-raw"])
    const plain = await rawClient(server)
    plain.hello("plain")
    await waitFor(() => offering.frames.length === 1 && plain.frames.length === 1)
    expect(offering.frames[0]).toMatchObject({ kind: "welcome", compression: "deflate-raw" })
    expect(plain.frames[0]).not.toHaveProperty("compression")
    const batch = { docs: Array.from({ length: 50 }, (_, i) => ({ id: `doc-${i}`, bytes: new Uint8Array(200) })) }
    server.sendControl("offering" as PeerId, batch)
    server.sendControl("plain" as PeerId, batch)
    await waitFor(() => offering.frames.length === 2 && plain.frames.length === 2)
    expect(offering.frames[1]!.kind).toBe("compressed")
    expect(plain.frames[1]).toEqual({ kind: "control", message: batch })
    expect(server.stats("offering" as PeerId)!.bytesOut).toBeLessThan(server.stats("plain" as PeerId)!.bytesOut / 4)
  })

  it.each<[string, string[] | undefined, () => Uint8Array, RegExp]>([
    ["a compressed frame it did not agree to", undefined, () => deflateRawSync(encodeFrame({ kind: "ping" })), /no compression was agreed/],
    [
      "a compressed frame that inflates past the frame limit",
      ["deflate-raw"],
      () => deflateRawSync(new Uint8Array(2 * 1024 * 1024)),
      /does not inflate within the limit of 4096 bytes/,
    ],
  ])("closes a connection that sends %s", async (_, offer, bytes, reason) => {
    const { codec, limits } = zlibCompression()
    const { server, logs } = startServer({ compression: codec, maxFrameBytes: 4096 })
    const control: ControlEvent[] = []
    server.on("control", event => control.push(event))
    const client = await rawClient(server)
    client.hello("c", {}, 1, offer)
    await waitFor(() => client.frames.length === 1)
    client.send({ kind: "compressed", bytes: bytes() })
    expect(await client.closedWith(CloseCode.BAD_FRAME)).toMatch(reason)
    expect(logs.join("\n")).toMatch(reason)
    expect(control).toEqual([])
    // Inflating stopped at the limit: the 2 MiB were never made.
    expect(limits.every(limit => limit === 4096)).toBe(true)
  })

  it("closes every connection on disconnect, turns sockets away until connected again", async () => {
    const { server, events } = startServer()
    const client = await rawClient(server)
    client.hello("c")
    await waitFor(() => client.frames.length === 1)
    server.disconnect()
    expect(await client.closedWith(CloseCode.GOING_AWAY)).toBe("server shutting down")
    expect(events.slice(-2)).toEqual(["gone c", "disconnected c"])
    const late = await rawClient(server)
    await late.closedWith(CloseCode.GOING_AWAY)
    server.connect(SERVER, {})
    const again = await rawClient(server)
    again.hello("c")
    await waitFor(() => again.frames.length === 1)
  })

  it("holds a hello that arrives before the Repo connected the adapter", async () => {
    const server = new CairnServerAdapter({ log: () => {}, inbound: () => "pass" })
    servers.push(server)
    expect(server.isReady()).toBe(false)
    const client = await rawClient(server)
    client.hello()
    await sleep(20)
    expect(client.frames).toEqual([])
    server.connect(SERVER, {})
    await server.whenReady()
    await waitFor(() => client.frames.length === 1)
    expect(client.frames[0]?.kind).toBe("welcome")
  })
})
