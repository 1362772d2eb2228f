/**
 * Vouches: a machine's signature over the latest change it made to a document, which proves every change of that
 * machine in the change's history.
 *
 * Why not a signature on every change: 64 bytes a change is 16.6 MB of signatures for the automerge-paper trace's
 * 259,778 edits, against a 349 KB document. An Automerge change's hash covers its dependencies' hashes, so the
 * history under a signed hash is fixed; and Automerge refuses a second change with an (actor, seq) it holds. A
 * holder therefore keeps one vouch per machine and line of history (usually one per machine a document has had),
 * whatever the length of the history.
 *
 * A vouch carries the machine's public key; the machine id is derived from it (Machine.ts), and the machine of a
 * change is the first 32 hex digits of its actor (actor.ts), so a vouch needs no lookup to be checked. Whether the
 * machine may still write here (untrusted since, or never granted the type) is the caller's question.
 *
 * Not yet wired into the sync paths: see README, "Not done yet".
 */
import { fromHex, machineIdOfActor, toHex } from "./actor.js"
import { machineIdFromPublicKey, type MachineIdentity, verifySignature } from "./Machine.js"

/** A machine's signature over (document, change hash). Hex strings, for JSON and CBOR alike. */
export interface Vouch {
  /** The hash of the change vouched for (hex, 64 digits). */
  hash: string
  /** The signing machine's raw ed25519 public key (hex, 64 digits). */
  publicKey: string
  /** ed25519 over `vouchBytes(documentId, hash)` (hex, 128 digits). */
  signature: string
}

/** What a change needs for its vouch to be checked: Automerge's decoded change has all three. */
export interface ChangeLinks {
  hash: string
  actor: string
  deps: string[]
}

const DOMAIN = new TextEncoder().encode("cairn-vouch-1\0")
const HASH = /^[0-9a-f]{64}$/

/** The bytes a vouch signs: a domain tag, the document id, a separator, and the change hash. */
export function vouchBytes(documentId: string, hash: string): Uint8Array {
  if (!HASH.test(hash)) throw new TypeError(`a change hash is 64 lowercase hex digits, got ${JSON.stringify(hash)}`)
  const id = new TextEncoder().encode(documentId)
  const out = new Uint8Array(DOMAIN.length + id.length + 1 + 32)
  out.set(DOMAIN, 0)
  out.set(id, DOMAIN.length)
  out[DOMAIN.length + id.length] = 0
  out.set(fromHex(hash), DOMAIN.length + id.length + 1)
  return out
}

/** This machine's vouch for its change `hash` in document `documentId`. */
export async function makeVouch(machine: MachineIdentity, documentId: string, hash: string): Promise<Vouch> {
  const signature = await machine.sign(vouchBytes(documentId, hash))
  return { hash, publicKey: machine.publicKey, signature: toHex(signature) }
}

/** Machine ids of public keys already seen (one SHA-256 each); bounded, since keys come from peers. */
const machineIds = new Map<string, string>()

async function machineOf(publicKey: string): Promise<string> {
  let id = machineIds.get(publicKey)
  if (id === undefined) {
    id = await machineIdFromPublicKey(fromHex(publicKey))
    if (machineIds.size >= 4096) machineIds.clear()
    machineIds.set(publicKey, id)
  }
  return id
}

/**
 * The machine a vouch is by, if its signature holds for `documentId`; undefined for a malformed or forged one (a
 * vouch from a peer is input like any other: its shape is checked before its bytes are used).
 */
export async function vouchSigner(documentId: string, vouch: unknown): Promise<string | undefined> {
  if (!isVouchShape(vouch)) return undefined
  if (!(await verifySignature(vouch.publicKey, vouchBytes(documentId, vouch.hash), fromHex(vouch.signature)))) return undefined
  return machineOf(vouch.publicKey)
}

function isVouchShape(value: unknown): value is Vouch {
  if (typeof value !== "object" || value === null) return false
  const { hash, publicKey, signature } = value as Record<string, unknown>
  return (
    typeof hash === "string" &&
    HASH.test(hash) &&
    typeof publicKey === "string" &&
    HASH.test(publicKey) &&
    typeof signature === "string" &&
    /^[0-9a-f]{128}$/.test(signature)
  )
}

/**
 * The changes no vouch reaches: a change of machine M is vouched for when a valid vouch by M names it or a change
 * that has it in its history. `vouches` are already checked (`vouchSigner`), each with its machine. History is
 * followed through the given changes only: a change a vouch reaches through changes the holder has and the message
 * lacks cannot be a change of the message, since Automerge applies a change only after its dependencies.
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
