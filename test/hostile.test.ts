/**
 * Hostile input against a live server in its own process: random bytes,
 * mutated valid frames, valid frames with corrupted payloads, sync messages
 * for documents that do not exist, a flood of connections. Afterwards the
 * server must still serve a normal client, with its documents intact.
 */
import { afterAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { encode } from "cbor-x"
import { PeerProcess, TempDirs } from "./helpers/PeerProcess.js"

const dirs = new TempDirs()
const running: PeerProcess[] = []
afterAll(async () => {
  await Promise.all(running.map(p => p.kill()))
  await dirs.cleanup()
})

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function mutate(bytes: Uint8Array, random: () => number): Uint8Array {
  const out = Uint8Array.from(bytes)
  const kind = Math.floor(random() * 4)
  if (kind === 0) for (let i = 0; i < 1 + random() * 4; i++) out[Math.floor(random() * out.length)]! ^= 1 << Math.floor(random() * 8)
  if (kind === 1) return out.slice(0, Math.floor(random() * out.length))
  if (kind === 2) return Uint8Array.from([...out, ...Array.from({ length: 1 + random() * 32 }, () => Math.floor(random() * 256))])
  if (kind === 3) out[Math.floor(random() * out.length)] = Math.floor(random() * 256)
  return out
}

describe("hostile input", () => {
  it("survives 10,000 random and mutated frames and a connection flood, and keeps serving", async () => {
    const seed = Number(process.env.CAIRN_FUZZ_SEED ?? Date.now() % 100000)
    const random = prng(seed)
    const server = await PeerProcess.start({ dir: await dirs.make() })
    running.push(server)
    const { url } = await server.call("listen")
    const ids = await server.call("createMany", { type: "task", count: 20 })
    const before = await server.call("catalog")

    const peerId = (i: number) => `fuzz${i}`
    const helloFor = (i: number) =>
      encode({
        kind: "hello",
        protocol: 1,
        peerId: peerId(i),
        peerMetadata: {},
        info: { protocol: 1, machineId: "f".repeat(32), wants: "*" },
      })
    const validAfterHello = (i: number): Uint8Array[] => [
      encode({ kind: "control", message: { t: "pull", since: null } }),
      encode({ kind: "control", message: { t: "want", docs: ids.map((id: string) => ({ id, have: [] })) } }),
      encode({ kind: "control", message: { t: "docs", docs: [{ id: ids[0], bytes: Uint8Array.from([1, 2, 3, 4]) }] } }),
      encode({
        kind: "control",
        message: { t: "offer", epoch: "x", seq: 1, entries: [{ id: ids[1], type: "secret", heads: ["00"] }], done: true },
      }),
      encode({
        kind: "repo",
        message: { type: "sync", senderId: peerId(i), targetId: "x", documentId: ids[2], data: Uint8Array.from([0x42, 1, 2, 3]) },
      }),
      encode({
        kind: "repo",
        message: {
          type: "request",
          senderId: peerId(i),
          targetId: "x",
          documentId: "3vVsGd9VWHZQtSNHpkrYPcZSVd9G",
          data: new Uint8Array(8),
        },
      }),
      encode({ kind: "ping" }),
    ]
    let sent = 0
    const connections = 100
    const perConnection = 100
    await Promise.all(
      Array.from(
        { length: connections },
        (_, i) =>
          new Promise<void>(resolve => {
            const socket = new WebSocket(url)
            const done = () => resolve()
            socket.on("error", done)
            socket.on("close", done)
            socket.on("open", () => {
              const frames: Uint8Array[] = []
              if (i % 2 === 0) frames.push(helloFor(i))
              const valid = validAfterHello(i)
              for (let n = frames.length; n < perConnection; n++) {
                const pick = random()
                if (pick < 0.3) frames.push(Uint8Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)))
                else if (pick < 0.6) frames.push(valid[Math.floor(random() * valid.length)]!)
                else frames.push(mutate(valid[Math.floor(random() * valid.length)]!, random))
              }
              for (const frame of frames) {
                if (socket.readyState !== WebSocket.OPEN) break
                socket.send(frame)
                sent++
              }
              setTimeout(() => socket.terminate(), 200)
            })
          }),
      ),
    )
    // Frames are written in one turn of the event loop, before any close from the server can arrive.
    expect(sent, `seed ${seed}`).toBeGreaterThanOrEqual(10_000)

    const client = await PeerProcess.start({ dir: await dirs.make() })
    running.push(client)
    await client.call("connect", { url })
    await client.call("synced", { timeoutMs: 30_000 })
    expect((await client.call("list", { type: "task" })).length).toBe(20)
    const after = await server.call("catalog")
    expect(after.map((e: { id: string; heads: string[] }) => [e.id, e.heads])).toEqual(
      before.map((e: { id: string; heads: string[] }) => [e.id, e.heads]),
    )
    await Promise.all([server.stop(), client.stop()])
  }, 120_000)
})
