/**
 * A document's chunks in storage, checked before anything loads them.
 *
 * Why check: Automerge.loadIncremental stops silently at the first chunk it
 * cannot read and drops every chunk after it, and throws if the bad one comes
 * first; automerge-repo loads a document's chunks as one run that way. So one
 * torn write (a process killed mid-write leaves an empty or short file) or one
 * flipped bit could hide the healthy rest of a document, or make it
 * unloadable. Each Automerge chunk carries the first four bytes of the
 * SHA-256 of its body, so checking costs a hash of the bytes, not a load.
 */
import * as A from "@automerge/automerge"
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import { sha256 } from "@noble/hashes/sha2"
import type { Envelope } from "../document/envelope.js"

const MAGIC = [0x85, 0x6f, 0x4a, 0x83]
/** Chunk type of a change. */
const CHANGE = 1
/** Chunk type of a compressed change: its checksum is over the uncompressed bytes, so only its framing is checked. */
const COMPRESSED_CHANGE = 2
/**
 * Chunks up to this size are hashed in JavaScript, at once; larger ones by WebCrypto. Measured here: 9 µs for a
 * 300-byte chunk in JavaScript against 90 µs for `crypto.subtle.digest` (an asynchronous job each), which wins only
 * past about 20 KiB (1 MiB: 0.9 ms against 5 ms).
 */
const SYNC_HASH_MAX_BYTES = 16 * 1024

export interface StoredChunks {
  /** Readable chunks, snapshots first. */
  good: Chunk[]
  /** Keys of chunks that are empty, cut short or fail their checksum. */
  bad: StorageKey[]
}

/** Load a document's chunks and sort the readable from the unreadable. */
export async function loadChunks(storage: StorageAdapterInterface, id: string): Promise<StoredChunks> {
  const chunks = [...(await storage.loadRange([id, "snapshot"])), ...(await storage.loadRange([id, "incremental"]))]
  return sortChunks(chunks)
}

/** Sort chunks (of one document) into readable and unreadable. */
export async function sortChunks(chunks: Chunk[]): Promise<StoredChunks> {
  const good: Chunk[] = []
  const bad: StorageKey[] = []
  for (const chunk of chunks) {
    if (!chunk.data) continue
    if (await isIntact(chunk.data)) good.push(chunk)
    else bad.push(chunk.key)
  }
  return { good, bad }
}

/** One Automerge chunk in a run of them: its type and where it starts and ends. */
interface ChunkSpan {
  type: number
  start: number
  end: number
}

/** The chunks `bytes` is a run of (magic, checksum, type, LEB128 length, body), or undefined if it is not whole. */
function chunkSpans(bytes: Uint8Array): ChunkSpan[] | undefined {
  const spans: ChunkSpan[] = []
  let offset = 0
  while (offset < bytes.byteLength) {
    if (offset + 9 > bytes.byteLength) return undefined
    for (let i = 0; i < 4; i++) if (bytes[offset + i] !== MAGIC[i]) return undefined
    let length = 0
    let shift = 0
    let position = offset + 9
    for (;;) {
      if (position >= bytes.byteLength || shift > 35) return undefined
      const byte = bytes[position++]!
      length += (byte & 0x7f) * 2 ** shift
      shift += 7
      if ((byte & 0x80) === 0) break
    }
    const end = position + length
    if (end > bytes.byteLength) return undefined
    spans.push({ type: bytes[offset + 8]!, start: offset, end })
    offset = end
  }
  return spans
}

/** True when `bytes` is a run of whole Automerge chunks whose checksums match. */
export async function isIntact(bytes: Uint8Array): Promise<boolean> {
  if (bytes.byteLength === 0) return false
  const spans = chunkSpans(bytes)
  if (!spans) return false
  for (const { type, start, end } of spans) {
    if (type === COMPRESSED_CHANGE) continue
    const body = bytes.subarray(start + 8, end)
    const digest =
      body.byteLength <= SYNC_HASH_MAX_BYTES ? sha256(body) : new Uint8Array(await crypto.subtle.digest("SHA-256", body as BufferSource))
    for (let i = 0; i < 4; i++) if (digest[i] !== bytes[start + 4 + i]) return false
  }
  return true
}

/**
 * The change chunks `bytes` is made of (what `A.saveSince` writes), each to be decoded on its own; undefined when
 * it holds anything else (a document, a bundle) or is not whole, for the caller to check another way.
 */
export function changeChunks(bytes: Uint8Array): Uint8Array[] | undefined {
  const spans = chunkSpans(bytes)
  if (!spans || spans.length === 0 || spans.some(span => span.type !== CHANGE && span.type !== COMPRESSED_CHANGE)) return undefined
  return spans.map(({ start, end }) => bytes.subarray(start, end))
}

/** Chunk type of a whole document (what `A.save` writes): every change of it, with no outside dependency. */
const DOCUMENT = 0

/**
 * Every change in `bytes`, one encoded change each, as a sync message can carry them: change chunks, several run
 * together, or a whole document (Automerge sends one to a peer that has little). Undefined when it holds anything
 * else or is not whole: the caller must then check the changes against the document they apply to.
 */
export function changesIn(bytes: Uint8Array): Uint8Array[] | undefined {
  const spans = chunkSpans(bytes)
  if (!spans || spans.length === 0) return undefined
  const changes: Uint8Array[] = []
  for (const { type, start, end } of spans) {
    const chunk = bytes.subarray(start, end)
    if (type === CHANGE || type === COMPRESSED_CHANGE) changes.push(chunk)
    else if (type === DOCUMENT) changes.push(...A.getAllChanges(A.load(chunk, { actor: READ_ONLY_ACTOR })))
    else return undefined
  }
  return changes
}

/** The bytes of several chunks as one run (what Automerge loads). */
export function concatChunks(chunks: Chunk[]): Uint8Array {
  const parts = chunks.map(c => c.data).filter((d): d is Uint8Array => !!d)
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

/**
 * The actor of documents loaded only to be read and checked (never changed: changes go through the repo's
 * handles, under the session's actor). Without one, Automerge draws a random actor id for every load, about
 * 5% of an initial sync's ingest. Were one changed by mistake, its changes would name no machine and fail checks.
 */
export const READ_ONLY_ACTOR = "00000000000000000000000000000000" as A.ActorId

/**
 * A document from stored or sent bytes. Bytes that pass their checksums but
 * do not load as a whole (a change whose dependencies were lost, or have not
 * arrived) load as far as they go.
 */
export function loadDocument(bytes: Uint8Array, actor: A.ActorId = READ_ONLY_ACTOR): A.Doc<Envelope> {
  try {
    return A.load<Envelope>(bytes, { actor })
  } catch {
    return A.loadIncremental(A.init<Envelope>({ actor }), bytes)
  }
}
