/**
 * TCP from a hostile peer's side: raw streams that send what a Cairn client
 * never would (a length that claims too much, a frame over the limit, a
 * frame dribbled byte by byte, bytes that are not Cairn at all), and what
 * the server does about each. The well-behaved side is the conformance suite.
 */
import { connect, type Socket } from "node:net"
import type { PeerId } from "@automerge/automerge-repo"
import { CloseCode, FRAME_PROTOCOL_VERSION } from "@cairn/core/network"
import { Decoder, Encoder } from "cbor-x"
import { afterEach, describe, expect, it } from "vitest"
import { TcpServerTransport, type TcpServerTransportOptions } from "./TcpServerTransport.js"
import { parseTcpUrl } from "./TcpClientAdapter.js"

const MiB = 1024 * 1024
const cbor = new Encoder({ tagUint8Array: false, useRecords: false })
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true })

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function startServer(options: Partial<TcpServerTransportOptions> = {}) {
  const logs: string[] = []
  const transport = new TcpServerTransport({ log: message => logs.push(message), inbound: () => "pass", ...options })
  transport.adapter.connect("server" as PeerId, {})
  cleanups.push(() => transport.close())
  const address = await transport.listen()
  return { transport, address, logs }
}

function header(kind: number, length: number): Buffer {
  const bytes = Buffer.alloc(5)
  bytes.writeUInt8(kind, 0)
  bytes.writeUInt32BE(length, 1)
  return bytes
}

function message(frame: unknown): Buffer {
  const payload = cbor.encode(frame)
  return Buffer.concat([header(1, payload.byteLength), payload])
}

/** A bare TCP stream to the server, with what it hears: Cairn frames, and the close frame's code and reason. */
async function rawStream(port: number, { allowHalfOpen = false } = {}) {
  const stream: Socket = connect({ host: "127.0.0.1", port, allowHalfOpen })
  stream.on("error", () => {})
  cleanups.push(() => stream.destroy())
  const frames: { kind: string }[] = []
  let closeFrame: { code: number; reason: string } | undefined
  let pending = Buffer.alloc(0)
  stream.on("data", chunk => {
    pending = Buffer.concat([pending, chunk])
    while (pending.byteLength >= 5 && pending.byteLength >= 5 + pending.readUInt32BE(1)) {
      const length = pending.readUInt32BE(1)
      const payload = pending.subarray(5, 5 + length)
      if (pending[0] === 1) frames.push(decoder.decode(payload))
      else closeFrame = { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString("utf8") }
      pending = pending.subarray(5 + length)
    }
  })
  const closed = new Promise<{ code: number; reason: string } | undefined>(resolve => stream.once("close", () => resolve(closeFrame)))
  await new Promise<void>(resolve => stream.once("connect", () => resolve()))
  return { stream, frames, closed }
}

/** A raw stream that said hello and was welcomed. */
async function welcomedStream(port: number, options: { allowHalfOpen?: boolean } = {}) {
  const raw = await rawStream(port, options)
  raw.stream.write(message({ kind: "hello", protocol: FRAME_PROTOCOL_VERSION, peerId: "hostile", peerMetadata: {}, info: {} }))
  await waitUntil(() => raw.frames.some(frame => frame.kind === "welcome"))
  return raw
}

async function waitUntil(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

describe("TcpServerTransport against a hostile peer", () => {
  it("listens on a free port of 127.0.0.1 and reports a tcp:// URL", async () => {
    const { address } = await startServer()
    expect(address.host).toBe("127.0.0.1")
    expect(address.url).toBe(`tcp://127.0.0.1:${address.port}`)
    expect(parseTcpUrl(address.url)).toEqual({ host: "127.0.0.1", port: address.port, secure: false })
  })

  it("closes a stream whose length header claims more than the limit, before the body arrives, and says why", async () => {
    const { address, logs } = await startServer({ maxFrameBytes: 1 * MiB })
    const raw = await rawStream(address.port)
    // A gigabyte announced; not one byte of it sent.
    raw.stream.write(header(1, 1024 * MiB))
    const closed = await raw.closed
    expect(closed?.code).toBe(CloseCode.BAD_FRAME)
    expect(closed?.reason).toMatch(/frame of 1073741824 bytes exceeds the limit of 1048576/)
    expect(logs.some(line => /exceeds the limit/.test(line))).toBe(true)
  })

  it("closes a welcomed stream that sends a frame over the limit, and takes nothing from it", async () => {
    const { transport, address, logs } = await startServer({ maxFrameBytes: 1 * MiB })
    const controls: unknown[] = []
    transport.adapter.on("control", event => controls.push(event.message))
    const raw = await welcomedStream(address.port)
    const payload = cbor.encode({ kind: "control", message: { blob: new Uint8Array(2 * MiB) } })
    raw.stream.write(Buffer.concat([header(1, payload.byteLength), payload]))
    const closed = await raw.closed
    expect(closed?.code).toBe(CloseCode.BAD_FRAME)
    expect(closed?.reason).toMatch(/exceeds the limit of 1048576/)
    expect(logs.some(line => /exceeds the limit/.test(line))).toBe(true)
    expect(controls).toEqual([])
    await waitUntil(() => transport.adapter.peers.length === 0)
  })

  it("closes a stream that dribbles a frame slower than the frame timeout allows (slow loris)", async () => {
    const { transport, address } = await startServer({ frameTimeoutMs: 300, keepAliveMs: 0 })
    const raw = await welcomedStream(address.port)
    const started = Date.now()
    raw.stream.write(header(1, 100))
    // One byte every 50 ms: always something arriving, never a whole frame.
    const dribble = setInterval(() => raw.stream.writable && raw.stream.write(Buffer.from([0])), 50)
    cleanups.push(() => clearInterval(dribble))
    const closed = await raw.closed
    expect(closed?.code).toBe(CloseCode.TIMEOUT)
    expect(closed?.reason).toMatch(/did not arrive whole within 300 ms/)
    expect(Date.now() - started).toBeLessThan(3_000)
    await waitUntil(() => transport.adapter.peers.length === 0)
  })

  it("cuts off a peer that sends a close frame and then never finishes its side of the stream", async () => {
    const { transport, address } = await startServer({ keepAliveMs: 0 })
    const raw = await welcomedStream(address.port, { allowHalfOpen: true })
    const reason = Buffer.from("bye")
    const payload = Buffer.alloc(2 + reason.byteLength)
    payload.writeUInt16BE(CloseCode.NORMAL, 0)
    reason.copy(payload, 2)
    raw.stream.write(Buffer.concat([header(2, payload.byteLength), payload]))
    await waitUntil(() => transport.adapter.peers.length === 0, 3_000)
  })

  it("closes a stream that stops halfway through a frame header", async () => {
    const { address } = await startServer({ frameTimeoutMs: 200 })
    const raw = await rawStream(address.port)
    raw.stream.write(Buffer.from([1, 0]))
    expect((await raw.closed)?.code).toBe(CloseCode.TIMEOUT)
  })

  it("closes a stream that does not speak Cairn (an HTTP request), saying so", async () => {
    const { address, logs } = await startServer()
    const raw = await rawStream(address.port)
    raw.stream.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    const closed = await raw.closed
    expect(closed?.code).toBe(CloseCode.BAD_FRAME)
    expect(closed?.reason).toMatch(/not a Cairn TCP stream/)
    expect(logs.some(line => /not a Cairn TCP stream/.test(line))).toBe(true)
  })

  it("cuts off a stream that sends more than a handshake needs before it is welcomed", async () => {
    const { address } = await startServer()
    const raw = await rawStream(address.port)
    // Within the frame limit (64 MiB), far past what a hello needs: cut off on the raw bytes, not buffered whole.
    raw.stream.write(header(1, 32 * MiB))
    raw.stream.write(Buffer.alloc(300 * 1024))
    expect(await raw.closed).toBeUndefined()
    expect(raw.frames).toEqual([])
  })
})

describe("parseTcpUrl", () => {
  it("reads tcp:// and tcps:// URLs, IPv6 included, and says what is wrong with others", () => {
    expect(parseTcpUrl("tcps://example.org:4040")).toEqual({ host: "example.org", port: 4040, secure: true })
    expect(parseTcpUrl("tcp://[::1]:4040")).toEqual({ host: "::1", port: 4040, secure: false })
    expect(() => parseTcpUrl("tcp://127.0.0.1")).toThrow(/names no port/)
    expect(() => parseTcpUrl("ws://127.0.0.1:3030")).toThrow(/not a TCP URL/)
    expect(() => parseTcpUrl("tcp://127.0.0.1:3030/sync")).toThrow(/no path/)
  })
})
