/**
 * Vouches: a machine's signature over a change hash of a document, which proves every change of that machine in the
 * change's history. This is how a change's machine is proven, not only claimed: anyone may write changes under any
 * actor id, so a peer that passes changes on could otherwise say any machine made them.
 *
 * Why not a signature on every change: 64 bytes a change is 16.6 MB of signatures for the automerge-paper trace's
 * 259,778 edits, against a 349 KB document. An Automerge change's hash covers its dependencies' hashes, so the
 * history under a signed hash is fixed; and Automerge refuses a second change with an (actor, seq) it holds. A
 * machine vouches for a document's heads when it sends the document (covering every change of its own under them,
 * whatever the length of the history); a holder keeps the other machines' vouches it received and passes them on
 * (see database/vouches.ts for which it keeps).
 *
 * A vouch is 128 bytes: the change hash (32), the signing machine's raw ed25519 public key (32), the signature (64).
 * The machine id is derived from the key (Machine.ts), and the machine of a change is the first 32 hex digits of its
 * actor (actor.ts), so a vouch needs no lookup to be checked. Whether the machine may write here is the caller's
 * question.
 */
import { fromHex, machineIdOfActor, toHex } from "./actor.js"
import { machineIdFromPublicKey, type MachineIdentity } from "./Machine.js"

/** hash (32 bytes) ‖ public key (32) ‖ signature (64). */
export type Vouch = Uint8Array

export const VOUCH_BYTES = 128

/** What a change needs for its vouch to be checked: Automerge's decoded change has all three. */
export interface ChangeLinks {
  hash: string
  actor: string
  deps: readonly string[]
}

/** A vouch whose signature was checked, with the machine that made it. */
export interface CheckedVouch {
  hash: string
  machineId: string
  vouch: Vouch
}

const DOMAIN = new TextEncoder().encode("cairn-vouch-1\0")
const HASH = /^[0-9a-f]{64}$/
const ED25519 = { name: "Ed25519" }

/** The bytes a vouch signs: a domain tag, the document id, a separator, and the change hash. */
export function vouchBytes(documentId: string, hash: Uint8Array): Uint8Array {
  const id = new TextEncoder().encode(documentId)
  const out = new Uint8Array(DOMAIN.length + id.length + 1 + 32)
  out.set(DOMAIN, 0)
  out.set(id, DOMAIN.length)
  out[DOMAIN.length + id.length] = 0
  out.set(hash, DOMAIN.length + id.length + 1)
  return out
}

/** This machine's vouch for the change `hash` (hex) of document `documentId`. */
export async function makeVouch(machine: MachineIdentity, documentId: string, hash: string): Promise<Vouch> {
  if (!HASH.test(hash)) throw new TypeError(`a change hash is 64 lowercase hex digits, got ${JSON.stringify(hash)}`)
  const hashBytes = fromHex(hash)
  const signature = await machine.sign(vouchBytes(documentId, hashBytes))
  const vouch = new Uint8Array(VOUCH_BYTES)
  vouch.set(hashBytes, 0)
  vouch.set(fromHex(machine.publicKey), 32)
  vouch.set(signature, 64)
  return vouch
}

/** The change hash a vouch names (hex). */
export function vouchedHash(vouch: Vouch): string {
  return toHex(vouch.subarray(0, 32))
}

/** The public key (hex) a vouch says signed it (not checked: see `vouchSigner`). */
export function vouchKey(vouch: Vouch): string {
  return toHex(vouch.subarray(32, 64))
}

/** The machine a vouch says signed it, from its key (not checked: see `vouchSigner`). */
export function vouchMachine(vouch: Vouch): Promise<string> {
  return machineOf(vouchKey(vouch))
}

/** Machine ids of public keys already seen (one SHA-256 each); bounded, since keys come from peers. */
const machineIds = new Map<string, Promise<string>>()

function machineOf(publicKey: string): Promise<string> {
  let id = machineIds.get(publicKey)
  if (id === undefined) {
    id = machineIdFromPublicKey(fromHex(publicKey))
    if (machineIds.size >= 4096) machineIds.clear()
    machineIds.set(publicKey, id)
  }
  return id
}

/** Imported verification keys, by public key (hex); bounded like machineIds. */
const verifyKeys = new Map<string, Promise<CryptoKey | undefined>>()

function verifyKey(publicKey: Uint8Array): Promise<CryptoKey | undefined> {
  const hex = toHex(publicKey)
  let key = verifyKeys.get(hex)
  if (!key) {
    key = crypto.subtle.importKey("raw", publicKey as BufferSource, ED25519, false, ["verify"]).catch(() => undefined)
    if (verifyKeys.size >= 4096) verifyKeys.clear()
    verifyKeys.set(hex, key)
  }
  return key
}

/**
 * The machine a vouch is by, if its signature holds for `documentId`; undefined for a malformed or forged one (a
 * vouch from a peer is input like any other: its shape is checked before its bytes are used).
 */
export async function vouchSigner(documentId: string, vouch: unknown): Promise<string | undefined> {
  if (!(vouch instanceof Uint8Array) || vouch.byteLength !== VOUCH_BYTES) return undefined
  const key = await verifyKey(vouch.slice(32, 64))
  if (!key) return undefined
  let valid = false
  try {
    valid = await crypto.subtle.verify(
      ED25519,
      key,
      vouch.slice(64) as BufferSource,
      vouchBytes(documentId, vouch.subarray(0, 32)) as BufferSource,
    )
  } catch {
    valid = false
  }
  return valid ? machineOf(vouchKey(vouch)) : undefined
}

/** Check a list of vouches from a peer for one document: the valid ones, each with its machine. */
export async function checkVouches(documentId: string, vouches: readonly unknown[]): Promise<CheckedVouch[]> {
  const checked = await Promise.all(
    vouches.map(async vouch => {
      const machineId = await vouchSigner(documentId, vouch)
      return machineId ? { hash: vouchedHash(vouch as Vouch), machineId, vouch: vouch as Vouch } : undefined
    }),
  )
  return checked.filter(vouch => vouch !== undefined)
}

/** Vouches stored here (checked when they arrived), each with its machine: no signature is checked again. */
export async function storedVouches(vouches: readonly Vouch[]): Promise<CheckedVouch[]> {
  return Promise.all(vouches.map(async vouch => ({ hash: vouchedHash(vouch), machineId: await vouchMachine(vouch), vouch })))
}

/**
 * The changes no vouch reaches: a change of machine M is vouched for when a vouch by M names it or a change that has
 * it in its history. `vouches` are already checked (`checkVouches`). History is followed through the given changes
 * only: a change a vouch reaches through changes the holder has and the message lacks cannot be a change of the
 * message, since Automerge applies a change only after its dependencies.
 */
export function unvouched(changes: readonly ChangeLinks[], vouches: readonly { hash: string; machineId: string }[]): ChangeLinks[] {
  const byHash = new Map<string, ChangeLinks>()
  for (const change of changes) byHash.set(change.hash, change)
  const covered = new Set<string>()
  const byMachine = new Map<string, string[]>()
  for (const { hash, machineId } of vouches) {
    const starts = byMachine.get(machineId)
    if (starts) starts.push(hash)
    else byMachine.set(machineId, [hash])
  }
  for (const [machineId, starts] of byMachine) {
    const seen = new Set<string>()
    const stack = starts.filter(hash => byHash.has(hash))
    while (stack.length > 0) {
      const hash = stack.pop()!
      if (seen.has(hash)) continue
      seen.add(hash)
      const change = byHash.get(hash)!
      if (machineIdOfActor(change.actor) === machineId) covered.add(hash)
      for (const dep of change.deps) if (byHash.has(dep) && !seen.has(dep)) stack.push(dep)
    }
  }
  return changes.filter(change => !covered.has(change.hash))
}

/** Vouches one after another, as stored and sent. */
export function packVouches(vouches: readonly Vouch[]): Uint8Array {
  const out = new Uint8Array(vouches.length * VOUCH_BYTES)
  vouches.forEach((vouch, i) => out.set(vouch, i * VOUCH_BYTES))
  return out
}

/** The vouches of packed bytes (copies); undefined when the bytes are not a whole number of vouches. */
export function unpackVouches(bytes: Uint8Array | undefined): Vouch[] | undefined {
  if (bytes === undefined) return []
  if (!(bytes instanceof Uint8Array) || bytes.byteLength % VOUCH_BYTES !== 0) return undefined
  const out: Vouch[] = []
  for (let at = 0; at < bytes.byteLength; at += VOUCH_BYTES) out.push(bytes.slice(at, at + VOUCH_BYTES))
  return out
}

/** Two packed lists of vouches as one, each vouch once (undefined when both are empty). */
export function unionVouches(a: Uint8Array | undefined, b: Uint8Array | undefined): Uint8Array | undefined {
  if (!a?.byteLength) return b?.byteLength ? b : undefined
  if (!b?.byteLength) return a
  const seen = new Set<string>()
  const all: Vouch[] = []
  for (const vouch of [...(unpackVouches(a) ?? []), ...(unpackVouches(b) ?? [])]) {
    const key = toHex(vouch.subarray(64))
    if (seen.has(key)) continue
    seen.add(key)
    all.push(vouch)
  }
  return packVouches(all)
}
