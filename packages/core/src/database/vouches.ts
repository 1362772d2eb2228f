/**
 * Which vouches (identity/vouch.ts) a document's catalog entry keeps, and passes on when it sends the document, so
 * that every peer down the line can check who made each change: the other machines' vouches this peer checked when
 * they arrived with the document's changes, and this machine's own, made over the document's heads at each group
 * commit that changed it (DocumentStore.vouchOwn), replacing its older ones.
 *
 * Kept small: per machine (per public key), a vouch whose change is in the history of another vouch of that machine
 * proves nothing the other does not, and is dropped when the document is at hand to tell; a vouch naming a change
 * the document does not hold is dropped too. What is left is about one vouch per machine that wrote the document.
 */
import * as A from "@automerge/automerge"
import { containsHeads } from "../document/heads.js"
import { LruCache } from "../helpers/LruCache.js"
import { toHex } from "../identity/actor.js"
import { packVouches, unpackVouches, vouchedHash, type Vouch } from "../identity/vouch.js"

/** Documents whose accepted vouches wait for their changes to be listed (a live sync message passed the gate). */
const PENDING_DOCUMENTS = 1024
/** At most this many vouches of one machine are kept for a document when it is not at hand to prune them. */
const PER_MACHINE = 16

export class VouchBook {
  readonly #pending = new LruCache<string, Vouch[]>(PENDING_DOCUMENTS)

  /** Vouches checked for a document's changes that are about to be applied: listed with its next entry. */
  accept(id: string, vouches: readonly Vouch[]): void {
    if (vouches.length === 0) return
    this.#pending.set(id, [...(this.#pending.get(id) ?? []), ...vouches])
  }

  /** The vouches accepted for a document and not yet listed. */
  pending(id: string): readonly Vouch[] {
    return this.#pending.get(id) ?? []
  }

  /**
   * The vouches a document's new entry lists: what it listed (`listed`) and those accepted for it since, pruned
   * against `doc` when it is given (see the file's comment).
   */
  merged(id: string, listed: Uint8Array | undefined, doc?: A.Doc<unknown>): Uint8Array | undefined {
    const pending = this.#pending.take(id)
    if (!pending) return listed
    const kept = prune([...(unpackVouches(listed) ?? []), ...pending], doc)
    return kept.length > 0 ? packVouches(kept) : undefined
  }
}

/** A document's listed vouches with this machine's (`ownKey`, raw) replaced by `own`. */
export function replaceOwn(listed: Uint8Array | undefined, own: readonly Vouch[], ownKey: Uint8Array): Uint8Array {
  const others = (unpackVouches(listed) ?? []).filter(vouch => !sameBytes(vouch.subarray(32, 64), ownKey))
  return packVouches([...others, ...own])
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

function prune(vouches: Vouch[], doc: A.Doc<unknown> | undefined): Vouch[] {
  const byKey = new Map<string, Map<string, Vouch>>()
  for (const vouch of vouches) {
    const key = toHex(vouch.subarray(32, 64))
    let hashes = byKey.get(key)
    if (!hashes) byKey.set(key, (hashes = new Map()))
    // The latest of two vouches for one hash (they are alike unless one is bad, and only checked ones get here).
    hashes.set(vouchedHash(vouch), vouch)
  }
  const kept: Vouch[] = []
  for (const hashes of byKey.values()) {
    let left = [...hashes.keys()]
    if (doc) {
      left = left.filter(hash => containsHeads(doc, [hash]))
      if (left.length > 1) {
        // A hash is covered by another when it is not among the changes after that one.
        const covered = new Set<string>()
        for (const hash of left) {
          if (covered.has(hash)) continue
          const after = new Set(A.getChangesMetaSince(doc, [hash]).map(change => change.hash))
          for (const other of left) if (other !== hash && !after.has(other)) covered.add(other)
        }
        left = left.filter(hash => !covered.has(hash))
      }
    }
    for (const hash of left.slice(-PER_MACHINE)) kept.push(hashes.get(hash)!)
  }
  return kept
}
