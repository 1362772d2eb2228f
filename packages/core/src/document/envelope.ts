/**
 * The envelope: how a Cairn document is laid out inside its Automerge doc.
 *
 *   { v, type, createdBy, createdAt, typeVersion, deletedAt, data, creatorKey, proof }
 *
 * Everything but `deletedAt` and `data` is written once, in the document's
 * first change, in that order, so `type` is always operation 2 of the
 * creating actor. That is how a receiving peer tells a genuine type from one
 * a peer rewrote later (a later write has a higher operation counter) or
 * forged concurrently (two values, seen as a conflict). `modifiedAt` is not
 * stored: it is the time of the latest change, which Automerge records.
 *
 * The creator cannot be forged either: Automerge lets anyone write changes
 * under any actor id, so a peer could make a document whose creating actor
 * names another machine. `proof` is the creating machine's ed25519 signature
 * over the document id, type, creating actor, creation time and type version
 * (`creationMessage`), and `creatorKey` its public key, whose hash is the
 * machine id in the actor. A receiving peer checks it once, the first time it
 * sees the document (`verifyCreation`); a document that fails is quarantined.
 */
import * as A from "@automerge/automerge"
import { isTypeName } from "../schema/TypeDefinition.js"
import { machineIdOfActor, fromHex, toHex } from "../identity/actor.js"
import { machineIdFromPublicKey } from "../identity/Machine.js"

export const ENVELOPE_VERSION = 1

/** The stored root of a Cairn document. */
export interface Envelope {
  v: number
  type: A.ImmutableString
  createdBy: A.ImmutableString
  createdAt: number
  typeVersion: number
  deletedAt: number | null
  data: Record<string, unknown>
  /** The creating machine's public key (raw ed25519, 32 bytes). */
  creatorKey: Uint8Array
  /** The creating machine's signature (64 bytes) over `creationMessage`. Bytes, not hex: half the size in every document. */
  proof: Uint8Array
}

/** What the creating machine signs: everything about the document that may never change. */
export function creationMessage(id: string, type: string, actor: string, createdAt: number, typeVersion: number): Uint8Array {
  return new TextEncoder().encode(`cairn.create/1\n${id}\n${type}\n${actor}\n${createdAt}\n${typeVersion}`)
}

/**
 * Check a document's creation proof: the key hashes to the machine in the
 * creating actor, and the signature over this id, type, actor, time and
 * version is that key's. Returns why it fails, or undefined when it holds.
 * Call it after `readEnvelope` said the envelope is well formed.
 */
export async function verifyCreation(id: string, doc: A.Doc<unknown>, envelope?: EnvelopeMeta): Promise<string | undefined> {
  const root = doc as Partial<Envelope>
  if (!(root.creatorKey instanceof Uint8Array) || !(root.proof instanceof Uint8Array)) return "it has no creation proof"
  const actor =
    envelope?.actor ??
    actorOfOp(
      A.getBackend(doc)
        .getAll("_root", "type")
        .map(value => String(value.at(-1)))[0] ?? "",
    )
  if (root.creatorKey.byteLength !== 32 || root.proof.byteLength !== 64) return "its creation proof is malformed"
  const key = toHex(root.creatorKey)
  const creator = await creatorKey(key)
  if (!creator || creator.machineId !== machineIdOfActor(actor)) return "its creator key is not the creating machine's"
  const message = creationMessage(
    id,
    String(root.type?.val),
    actor,
    Number(root.createdAt),
    typeof root.typeVersion === "number" ? root.typeVersion : 1,
  )
  let valid = false
  try {
    valid = await crypto.subtle.verify("Ed25519", creator.key, root.proof as BufferSource, message as BufferSource)
  } catch {
    valid = false
  }
  return valid ? undefined : "its creation proof does not verify (forged creator, type or id)"
}

/**
 * Creator keys imported once each: an initial sync checks thousands of
 * documents made by a handful of machines, and importing the key and hashing
 * it for every document cost more than the signature check itself.
 */
const creatorKeys = new Map<string, Promise<{ machineId: string; key: CryptoKey } | undefined>>()

function creatorKey(publicKey: string): Promise<{ machineId: string; key: CryptoKey } | undefined> {
  let found = creatorKeys.get(publicKey)
  if (!found) {
    const raw = fromHex(publicKey)
    found = Promise.all([
      machineIdFromPublicKey(raw),
      crypto.subtle.importKey("raw", raw as BufferSource, "Ed25519", false, ["verify"]),
    ]).then(
      ([machineId, key]) => ({ machineId, key }),
      () => undefined,
    )
    if (creatorKeys.size >= 1024) creatorKeys.delete(creatorKeys.keys().next().value!)
    creatorKeys.set(publicKey, found)
  }
  return found
}

/** The metadata every document carries, read from its envelope. */
export interface EnvelopeMeta {
  type: string
  createdBy: string
  createdAt: number
  typeVersion: number
  deletedAt: number | null
  /** The Automerge actor that created the document (its first change's). */
  actor: string
}

/** What reading a document's envelope finds: its metadata, or why the document must be quarantined. */
export type EnvelopeCheck = { ok: true; meta: EnvelopeMeta } | { ok: false; reason: string }

/** Build the envelope of a new document (keys in this order; see the file comment). */
export function newEnvelope(
  type: string,
  machineId: string,
  createdAt: number,
  typeVersion: number,
  data: Record<string, unknown>,
): Omit<Envelope, "creatorKey" | "proof"> {
  return {
    v: ENVELOPE_VERSION,
    type: new A.ImmutableString(type),
    createdBy: new A.ImmutableString(machineId),
    createdAt,
    typeVersion,
    deletedAt: null,
    data,
  }
}

/**
 * Read and check a document's envelope. Returns the metadata, or a reason
 * the document must be quarantined: not a Cairn document, a type that was
 * changed after creation or forged concurrently, a forged creator.
 */
export function readEnvelope(doc: A.Doc<unknown>): EnvelopeCheck {
  const root = doc as Partial<Envelope>
  if (root.v === undefined && root.type === undefined) return { ok: false, reason: "not a Cairn document (no envelope)" }
  const backend = A.getBackend(doc)
  const typeOps = backend.getAll("_root", "type").map(value => String(value.at(-1)))
  if (typeOps.length !== 1) return { ok: false, reason: `its type was set concurrently to ${typeOps.length} values` }
  const typeOp = typeOps[0]!
  if (!typeOp.startsWith("2@")) return { ok: false, reason: "its type was changed after creation" }
  const creatorOps = backend.getAll("_root", "createdBy").map(value => String(value.at(-1)))
  if (creatorOps.length !== 1 || !(root.createdBy instanceof A.ImmutableString))
    return { ok: false, reason: "its creator is missing or was set concurrently" }
  const creatorActor = actorOfOp(creatorOps[0]!)
  if (creatorActor !== actorOfOp(typeOp) || !creatorOps[0]!.startsWith("3@"))
    return { ok: false, reason: "its creator was changed after creation" }
  for (const field of ["creatorKey", "proof"] as const) {
    const ops = backend.getAll("_root", field).map(value => String(value.at(-1)))
    if (ops.length !== 1 || actorOfOp(ops[0]!) !== creatorActor || !(root[field] instanceof Uint8Array))
      return { ok: false, reason: `its ${field} is missing, was changed or was set concurrently` }
  }
  return envelopeValues(root, creatorActor)
}

/**
 * The checks of `readEnvelope` on the values alone, for a root whose operations are known to be one creating
 * change's, in the envelope's order, each key set once by `creatorActor` (a change that `readFirstChange` read).
 */
export function envelopeValues(root: Partial<Envelope>, creatorActor: string): EnvelopeCheck {
  if (!(root.type instanceof A.ImmutableString) || !isTypeName(root.type.val))
    return { ok: false, reason: "its type is not a valid type name" }
  if (!(root.createdBy instanceof A.ImmutableString)) return { ok: false, reason: "its creator is missing or was set concurrently" }
  if (machineIdOfActor(creatorActor) !== root.createdBy.val)
    return { ok: false, reason: "its creator does not match the machine that created it" }
  if (typeof root.createdAt !== "number") return { ok: false, reason: "createdAt is not a number" }
  if (root.deletedAt !== null && typeof root.deletedAt !== "number") return { ok: false, reason: "deletedAt is not a number or null" }
  if (typeof root.data !== "object" || root.data === null || Array.isArray(root.data)) return { ok: false, reason: "data is not a map" }
  return {
    ok: true,
    meta: {
      type: root.type.val,
      createdBy: root.createdBy.val,
      createdAt: root.createdAt,
      typeVersion: typeof root.typeVersion === "number" ? root.typeVersion : 1,
      deletedAt: root.deletedAt ?? null,
      actor: creatorActor,
    },
  }
}

function actorOfOp(opId: string): string {
  return opId.slice(opId.indexOf("@") + 1)
}

/**
 * The time of a document's latest change, in milliseconds. Cairn records
 * change times in milliseconds; Automerge's own default is seconds, so a
 * small value from another writer is read as seconds.
 */
export function modifiedAtOf(doc: A.Doc<unknown>): number {
  const backend = A.getBackend(doc)
  let latest = 0
  for (const hash of A.getHeads(doc)) {
    // The change's metadata only: decoding the whole change (inspectChange) cost several times more.
    const change = backend.getChangeMetaByHash(hash)
    if (change && typeof change.time === "number") latest = Math.max(latest, changeTimeMs(change.time))
  }
  return latest
}

/** Change time as milliseconds (see modifiedAtOf). */
export function changeTimeMs(time: number): number {
  return time < 100_000_000_000 ? time * 1000 : time
}

/** The envelope's keys that later changes may write: every other one is written once, by the document's first change. */
const MUTABLE_KEYS = new Set(["data", "deletedAt"])

/**
 * The envelope key that one of these changes (encoded, as a sync message
 * carries them) writes although it is fixed at creation, if any: a change
 * from a peer to a document held here must never rewrite its type, creator,
 * creation time, version or proof. The document's first change (no
 * dependencies, first operation) is the one that writes them.
 */
export function fixedKeyWritten(changes: readonly Uint8Array[]): string | undefined {
  for (const bytes of changes) {
    const change = A.decodeChange(bytes)
    if (change.startOp === 1 && change.deps.length === 0) continue
    for (const op of change.ops) {
      if (op.obj === "_root" && typeof op.key === "string" && !MUTABLE_KEYS.has(op.key)) return op.key
    }
  }
  return undefined
}

/** Why a change that writes `key`, fixed at creation (see fixedKeyWritten), is refused: the same words on every path. */
export function fixedKeyRefusal(key: string): string {
  return `a document's ${key} is fixed at its creation and cannot be changed`
}
