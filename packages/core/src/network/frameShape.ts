import { isValidDocumentId, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo"
import { FrameError } from "./errors.js"
import type { Frame, PeerInfo } from "./frameTypes.js"

/**
 * Checks that a decoded CBOR value is a frame we accept and returns it typed.
 * Everything here came from the network: a field that reaches automerge-repo
 * unchecked can crash it or, through `storageId`, name a file path.
 */
export function checkFrame(value: unknown): Frame {
  if (!isRecord(value)) throw new FrameError("a frame must be a CBOR map")
  switch (value.kind) {
    case "hello":
      if (typeof value.protocol !== "number") throw new FrameError("hello: protocol must be a number")
      return {
        kind: "hello",
        protocol: value.protocol,
        peerId: checkPeerId(value.peerId, "hello"),
        peerMetadata: checkPeerMetadata(value.peerMetadata, "hello"),
        info: checkInfo(value.info, "hello"),
        ...optional("compression", checkCompressionOffer(value.compression)),
      }
    case "welcome":
      return {
        kind: "welcome",
        peerId: checkPeerId(value.peerId, "welcome"),
        peerMetadata: checkPeerMetadata(value.peerMetadata, "welcome"),
        info: checkInfo(value.info, "welcome"),
        ...optional("compression", checkName(value.compression, "welcome: compression")),
      }
    case "refuse":
      if (typeof value.reason !== "string") throw new FrameError("refuse: reason must be a string")
      return { kind: "refuse", reason: value.reason }
    case "auth":
    case "control":
      if (!("message" in value)) throw new FrameError(`${value.kind}: message is missing`)
      return { kind: value.kind, message: value.message }
    case "repo":
      return { kind: "repo", message: checkRepoMessage(value.message) }
    case "compressed":
      if (!(value.bytes instanceof Uint8Array)) throw new FrameError("compressed: bytes must be a byte string")
      return { kind: "compressed", bytes: value.bytes }
    case "ping":
    case "pong":
      return { kind: value.kind }
    default:
      throw new FrameError(`unknown frame kind ${describe(value.kind)}`)
  }
}

const MAX_ID_LENGTH = 256
// automerge-repo makes storage ids with uuid v4; they end up in storage keys,
// which nodefs turns into file paths, so nothing path-like gets through.
const STORAGE_ID = /^[A-Za-z0-9_-]{1,128}$/

function checkPeerId(value: unknown, where: string): PeerId {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new FrameError(`${where}: peerId must be a non-empty string of at most ${MAX_ID_LENGTH} characters`)
  }
  return value as PeerId
}

function checkPeerMetadata(value: unknown, where: string): PeerMetadata {
  if (!isRecord(value)) throw new FrameError(`${where}: peerMetadata must be a map`)
  const { storageId, isEphemeral } = value
  if (storageId !== undefined && (typeof storageId !== "string" || !STORAGE_ID.test(storageId))) {
    throw new FrameError(`${where}: peerMetadata.storageId must be letters, digits, '-' or '_'`)
  }
  if (isEphemeral !== undefined && typeof isEphemeral !== "boolean") {
    throw new FrameError(`${where}: peerMetadata.isEphemeral must be a boolean`)
  }
  const metadata: { storageId?: PeerMetadata["storageId"]; isEphemeral?: boolean } = {}
  if (storageId !== undefined) metadata.storageId = storageId as PeerMetadata["storageId"]
  if (isEphemeral !== undefined) metadata.isEphemeral = isEphemeral
  return metadata
}

function checkInfo(value: unknown, where: string): PeerInfo {
  if (!isRecord(value)) throw new FrameError(`${where}: info must be a map`)
  return value
}

const MAX_NAME_LENGTH = 64
const MAX_COMPRESSIONS = 8

function isName(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_NAME_LENGTH
}

function checkName(value: unknown, where: string): string | undefined {
  if (value === undefined || isName(value)) return value
  throw new FrameError(`${where} must be a name of at most ${MAX_NAME_LENGTH} characters`)
}

function checkCompressionOffer(value: unknown): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length > MAX_COMPRESSIONS || !value.every(isName))
    throw new FrameError(`hello: compression must be a list of at most ${MAX_COMPRESSIONS} names`)
  return value
}

/** `{ [key]: value }`, or nothing when value is undefined (an absent field stays absent). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

const DOCUMENT_MESSAGES = new Set(["sync", "request", "ephemeral", "doc-unavailable", "remote-heads-changed"])
const SYNC_MESSAGES = new Set(["sync", "request", "ephemeral"])

/**
 * Only the fields automerge-repo reads without checking: a missing or bad
 * documentId makes its synchronizer throw outside any handler.
 */
function checkRepoMessage(value: unknown): Message {
  if (!isRecord(value)) throw new FrameError("repo: message must be a map")
  const { type, senderId, targetId, documentId, data } = value
  if (typeof type !== "string") throw new FrameError("repo: message.type must be a string")
  checkPeerId(senderId, "repo message senderId")
  checkPeerId(targetId, "repo message targetId")
  if (DOCUMENT_MESSAGES.has(type) && documentId === undefined) {
    throw new FrameError(`repo: a ${type} message needs a documentId`)
  }
  if (documentId !== undefined && !isValidDocumentId(documentId)) {
    throw new FrameError(`repo: message.documentId ${describe(documentId)} is not a valid document id`)
  }
  if (data !== undefined && !(data instanceof Uint8Array)) {
    throw new FrameError("repo: message.data must be a byte string")
  }
  if (SYNC_MESSAGES.has(type) && data === undefined) throw new FrameError(`repo: a ${type} message needs data`)
  return value as Message
}

function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value) as unknown
  return prototype === Object.prototype || prototype === null
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 64))
  return typeof value
}
