/**
 * Which vouches (identity/vouch.ts) a document's catalog entry keeps, and passes on when it sends the document, so
 * that every peer down the line can check who made each change: the other machines' vouches this peer checked when
 * they arrived with the document's changes, and this machine's own, made over the document's heads at each group
 * commit that changed it (DocumentStore.vouchOwn), replacing its older ones.
 *
 * Kept small: per machine (per public key) the newest few, and none naming a change the document does not hold.
 */
import type * as A from "@automerge/automerge"
import { containsHeads } from "../document/heads.js"
import { LruCache } from "../helpers/LruCache.js"
import { packVouches, unpackVouches, vouchedHash, vouchKey, type Vouch } from "../identity/vouch.js"

/** Documents whose accepted vouches wait for their changes to be listed (a live sync message passed the gate). */
const PENDING_DOCUMENTS = 1024
/**
 * The newest this many vouches of each machine are kept for a document. The newest alone proves all the older
 * ones do (it covers its machine's changes in its history), but a peer may be sent the document as it was a change
 * or two ago, with changes the newest vouch does not name.
 */
const PER_MACHINE = 4

export class VouchBook {
  readonly #pending = new LruCache<string, Vouch[]>(PENDING_DOCUMENTS)
  /** Machines whose changes are refused on arrival, whoever passes them on (a runtime's trust list: removed ones). */
  revoked: (machineId: string) => boolean = () => false

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

/**
 * This machine's vouches kept for a document: the newest few, not only the newest. A peer may be sent the document
 * as it was a change or two ago (read just before a change here), and the newest vouch names a change it is not sent.
 */
const OWN_KEPT = 4

/** A document's listed vouches with this machine's (`ownKey`, hex) newest `own` added, keeping OWN_KEPT of them. */
export function replaceOwn(listed: Uint8Array | undefined, own: readonly Vouch[], ownKey: string): Uint8Array {
  const all = unpackVouches(listed) ?? []
  const others = all.filter(vouch => vouchKey(vouch) !== ownKey)
  const older = all.filter(vouch => vouchKey(vouch) === ownKey)
  const keep = Math.max(0, OWN_KEPT - own.length)
  return packVouches([...others, ...older.slice(older.length - keep), ...own])
}

function prune(vouches: Vouch[], doc: A.Doc<unknown> | undefined): Vouch[] {
  const byKey = new Map<string, Map<string, Vouch>>()
  for (const vouch of vouches) {
    const key = vouchKey(vouch)
    let hashes = byKey.get(key)
    if (!hashes) byKey.set(key, (hashes = new Map()))
    // The latest of two vouches for one hash (they are alike unless one is bad, and only checked ones get here),
    // moved to the end: the newest come last.
    hashes.delete(vouchedHash(vouch))
    hashes.set(vouchedHash(vouch), vouch)
  }
  const kept: Vouch[] = []
  for (const hashes of byKey.values()) {
    let left = [...hashes.keys()]
    if (doc) left = left.filter(hash => containsHeads(doc, [hash]))
    for (const hash of left.slice(-PER_MACHINE)) kept.push(hashes.get(hash)!)
  }
  return kept
}
