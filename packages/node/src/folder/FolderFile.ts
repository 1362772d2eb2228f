/**
 * One sync file in a shared folder: the changes one machine wrote for one
 * type, signed with that machine's key.
 *
 *   magic "CAIRNFS1" (8 bytes) | payload length (u32 BE) | CRC-32 of signature + payload (u32 BE)
 *   | ed25519 signature of the payload (64 bytes) | payload (CBOR, see FolderPayload)
 *
 * The length and checksum let a reader tell a file a folder tool is still
 * copying in (too short, or not matching yet) from a whole one; the
 * signature lets it tell a file the machine wrote from one anybody who can
 * reach the folder put there.
 */
import { decode, encode } from "cbor-x"
import { machineIdFromPublicKey, fromHex, verifySignature, type MachineIdentity } from "@cairn/core"
import { crc32 } from "../storage/crc32.js"

const MAGIC = new TextEncoder().encode("CAIRNFS1")
const SIGNATURE_BYTES = 64
export const HEADER_BYTES = MAGIC.length + 4 + 4 + SIGNATURE_BYTES
export const FOLDER_FORMAT = "cairn.folder/1"
/** A file longer than this is not read (a snapshot of a type that large belongs in a database server, not a folder). */
const MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024

/** A purge: the document's body is dropped everywhere. */
export interface FolderTombstone {
  id: string
  createdAt: number
  createdBy: string
  deletedAt: number | null
}

/** What a sync file carries (signed as a whole). */
export interface FolderPayload {
  format: typeof FOLDER_FORMAT
  machineId: string
  /** The writer's ed25519 public key (hex): its id is derived from it, a reader's trust list names it. */
  publicKey: string
  type: string
  /** This file's number among the writer's files of this type; names the file. */
  seq: number
  /** The number of the writer's file before this one (0: none): a reader applies a writer's files in order. */
  prev: number
  /** Holds every document of the type the writer has: files before it are not needed. */
  snapshot: boolean
  writtenAt: number
  /**
   * Changes since what the writer wrote before (the whole document in a snapshot), the heads they bring it to, and
   * the vouches of their machines (identity/vouch.ts in @cairn/core): a change no vouch reaches is refused.
   */
  docs: { id: string; heads: string[]; bytes: Uint8Array; vouches?: Uint8Array }[]
  tombstones: FolderTombstone[]
}

/** A file as read: whole and signed by the key it names, or not (yet). */
export type ReadFile =
  | { status: "ok"; payload: FolderPayload }
  /** Shorter than its header says, or not matching its checksum: a copy in progress, read again later. */
  | { status: "incomplete"; reason: string }
  /** Whole, but not something to apply: not a sync file, a bad signature, a payload that contradicts its place. */
  | { status: "invalid"; reason: string }

/** Encode and sign a payload. */
export async function encodeFolderFile(payload: FolderPayload, machine: MachineIdentity): Promise<Uint8Array> {
  const body = encode(payload) as Uint8Array
  const signature = await machine.sign(body)
  const file = new Uint8Array(HEADER_BYTES + body.byteLength)
  file.set(MAGIC, 0)
  file.set(signature, HEADER_BYTES - SIGNATURE_BYTES)
  file.set(body, HEADER_BYTES)
  const view = new DataView(file.buffer)
  view.setUint32(MAGIC.length, body.byteLength)
  view.setUint32(MAGIC.length + 4, crc32(file.subarray(HEADER_BYTES - SIGNATURE_BYTES)))
  return file
}

/**
 * Check a file's bytes and decode it. `expected` is what its place in the
 * folder says (the type folder, the machine folder, the number in its name):
 * a payload that says otherwise was moved there, and is invalid.
 */
export async function decodeFolderFile(bytes: Uint8Array, expected: { type: string; machineId: string; seq: number }): Promise<ReadFile> {
  if (bytes.byteLength < HEADER_BYTES) return { status: "incomplete", reason: `${bytes.byteLength} bytes, shorter than a header` }
  if (!MAGIC.every((byte, i) => bytes[i] === byte)) return { status: "invalid", reason: "not a Cairn folder sync file" }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const length = view.getUint32(MAGIC.length)
  if (length > MAX_PAYLOAD_BYTES) return { status: "invalid", reason: `its header claims ${length} bytes, more than a sync file may hold` }
  const whole = HEADER_BYTES + length
  if (bytes.byteLength < whole) return { status: "incomplete", reason: `${bytes.byteLength} of ${whole} bytes` }
  if (bytes.byteLength > whole) return { status: "incomplete", reason: `${bytes.byteLength} bytes, its header says ${whole}` }
  if (crc32(bytes.subarray(HEADER_BYTES - SIGNATURE_BYTES)) !== view.getUint32(MAGIC.length + 4))
    return { status: "incomplete", reason: "its checksum does not match (yet)" }
  const signature = bytes.subarray(HEADER_BYTES - SIGNATURE_BYTES, HEADER_BYTES)
  const body = bytes.subarray(HEADER_BYTES)
  let payload: FolderPayload
  try {
    payload = decode(body)
  } catch (error) {
    return { status: "invalid", reason: `its payload does not decode: ${(error as Error).message}` }
  }
  const shape = shapeProblem(payload)
  if (shape) return { status: "invalid", reason: shape }
  if (payload.type !== expected.type || payload.machineId !== expected.machineId || payload.seq !== expected.seq)
    return { status: "invalid", reason: `it says it is file ${payload.seq} of machine ${payload.machineId} for type ${payload.type}` }
  if ((await machineIdFromPublicKey(fromHex(payload.publicKey))) !== payload.machineId)
    return { status: "invalid", reason: `its key is not machine ${payload.machineId}'s` }
  if (!(await verifySignature(payload.publicKey, body, signature)))
    return { status: "invalid", reason: `its signature is not by the key it names (${payload.publicKey})` }
  return { status: "ok", payload }
}

/** What is wrong with a decoded payload's shape, if anything (a signed file can still be malformed). */
function shapeProblem(p: FolderPayload): string | undefined {
  if (typeof p !== "object" || p === null || p.format !== FOLDER_FORMAT) return `not a ${FOLDER_FORMAT} payload`
  if (typeof p.publicKey !== "string" || !/^[0-9a-f]{64}$/.test(p.publicKey)) return "it names no public key"
  if (!Number.isSafeInteger(p.seq) || !Number.isSafeInteger(p.prev) || p.prev >= p.seq) return "its numbering is malformed"
  if (!Array.isArray(p.docs) || !Array.isArray(p.tombstones)) return "it lists no documents"
  for (const doc of p.docs)
    if (
      typeof doc?.id !== "string" ||
      !(doc.bytes instanceof Uint8Array) ||
      !Array.isArray(doc.heads) ||
      (doc.vouches !== undefined && !(doc.vouches instanceof Uint8Array))
    )
      return "a document in it is malformed"
  for (const tombstone of p.tombstones) if (typeof tombstone?.id !== "string") return "a purge in it is malformed"
  return undefined
}
