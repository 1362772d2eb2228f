import { generateAutomergeUrl, parseAutomergeUrl, type Message, type PeerId } from "@automerge/automerge-repo"
import { Encoder } from "cbor-x"
import { describe, expect, it } from "vitest"
import { FrameError } from "./errors.js"
import { decodeFrame, encodeFrame, openLimits, type Frame } from "./frames.js"

const cbor = new Encoder({ tagUint8Array: false, useRecords: false })
const documentId = parseAutomergeUrl(generateAutomergeUrl()).documentId
const peerId = "peer-a" as PeerId

function roundTrip(frame: Frame): Frame {
  return decodeFrame(encodeFrame(frame))
}

describe("frames", () => {
  it("round-trips every frame kind", () => {
    const frames: Frame[] = [
      { kind: "hello", protocol: 1, peerId, peerMetadata: { isEphemeral: false }, info: { types: ["task"] } },
      { kind: "welcome", peerId, peerMetadata: { storageId: "3760df37-a4c6-4f66-9ecd-732039a9385d" as never }, info: {} },
      { kind: "refuse", reason: "no" },
      { kind: "auth", message: { nonce: new Uint8Array([1, 2]) } },
      { kind: "control", message: null },
      { kind: "hello", protocol: 1, peerId, peerMetadata: {}, info: {}, compression: ["deflate-raw"] },
      { kind: "welcome", peerId, peerMetadata: {}, info: {}, compression: "deflate-raw" },
      { kind: "compressed", bytes: new Uint8Array([1, 2, 3]) },
      { kind: "ping" },
      { kind: "pong" },
    ]
    for (const frame of frames) expect(roundTrip(frame)).toEqual(frame)
  })

  it("keeps Uint8Array payloads as plain Uint8Arrays, in repo and control messages", () => {
    const data = new Uint8Array([0, 1, 2, 255])
    const message = { type: "sync", senderId: peerId, targetId: "b", documentId, data } as Message
    const repo = roundTrip({ kind: "repo", message })
    expect(repo).toEqual({ kind: "repo", message })
    expect((repo as { message: Message }).message.data?.constructor).toBe(Uint8Array)

    const control = roundTrip({ kind: "control", message: { batch: [{ id: "x", bytes: data }] } })
    const bytes = (control as { message: { batch: { bytes: Uint8Array }[] } }).message.batch[0]!.bytes
    expect(bytes.constructor).toBe(Uint8Array)
    expect([...bytes]).toEqual([...data])
  })

  it("refuses a frame over the size limit before decoding it", () => {
    const bytes = encodeFrame({ kind: "control", message: new Uint8Array(2000) })
    expect(() => decodeFrame(bytes, openLimits(1000))).toThrow(/exceeds the limit of 1000/)
    expect(decodeFrame(bytes, openLimits(4000)).kind).toBe("control")
  })

  const hostile: [string, Uint8Array, RegExp][] = [
    ["an empty frame", new Uint8Array(), /empty frame/],
    ["truncated CBOR", encodeFrame({ kind: "refuse", reason: "a long reason" }).subarray(0, 6), /invalid CBOR/],
    ["a reserved CBOR byte", new Uint8Array([0x1f]), /invalid CBOR/],
    ["a CBOR array", cbor.encode(["hello"]), /must be a CBOR map/],
    ["an unknown kind", cbor.encode({ kind: "shout" }), /unknown frame kind "shout"/],
    ["a hello without a peer id", cbor.encode({ kind: "hello", protocol: 1, peerMetadata: {}, info: {} }), /peerId/],
    ["a hello without info", cbor.encode({ kind: "hello", protocol: 1, peerId: "p", peerMetadata: {} }), /info must be a map/],
    [
      "a hello offering compressions that are not names",
      cbor.encode({ kind: "hello", protocol: 1, peerId: "p", peerMetadata: {}, info: {}, compression: ["deflate-raw", 7] }),
      /compression must be a list/,
    ],
    [
      "a storage id that is a path",
      cbor.encode({ kind: "hello", protocol: 1, peerId: "p", peerMetadata: { storageId: "../../etc" }, info: {} }),
      /storageId/,
    ],
    ["a repo frame without a message", cbor.encode({ kind: "repo" }), /message must be a map/],
    [
      "a repo message with a bad document id",
      cbor.encode({ kind: "repo", message: { type: "sync", senderId: "a", targetId: "b", documentId: "../x", data: new Uint8Array(1) } }),
      /not a valid document id/,
    ],
    [
      "a sync message without a document id",
      cbor.encode({ kind: "repo", message: { type: "sync", senderId: "a", targetId: "b", data: new Uint8Array(1) } }),
      /needs a documentId/,
    ],
    [
      "a sync message whose data is text",
      cbor.encode({ kind: "repo", message: { type: "sync", senderId: "a", targetId: "b", documentId, data: "x" } }),
      /data must be a byte string/,
    ],
    ["a control frame without a message", cbor.encode({ kind: "control" }), /message is missing/],
    // CBOR tag 27 asks the decoder to call a named global constructor.
    [
      "a generic-object tag",
      new Uint8Array([0xd8, 0x1b, 0x82, 0x65, ...new TextEncoder().encode("Error"), 0x61, 0x78]),
      /tags are not accepted/,
    ],
  ]

  it.each(hostile)("throws FrameError for %s", (_, bytes, message) => {
    expect(() => decodeFrame(bytes)).toThrow(FrameError)
    expect(() => decodeFrame(bytes)).toThrow(message)
  })

  it("throws nothing but FrameError on random bytes", () => {
    let seed = 42
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const valid = encodeFrame({ kind: "hello", protocol: 1, peerId, peerMetadata: {}, info: { a: [1, "b"] } })
    for (let i = 0; i < 3000; i++) {
      const bytes =
        i % 2 === 0
          ? Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256))
          : valid.map(byte => (random() < 0.1 ? Math.floor(random() * 256) : byte))
      try {
        decodeFrame(bytes)
      } catch (error) {
        expect(error).toBeInstanceOf(FrameError)
      }
    }
  })
})
