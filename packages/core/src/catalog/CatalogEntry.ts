/** What the catalog knows about one document. */
export interface CatalogEntry {
  id: string
  type: string
  createdAt: number
  createdBy: string
  modifiedAt: number
  deletedAt: number | null
  /** Automerge heads (hex change hashes), sorted. Empty for a purged document. */
  heads: string[]
  /** Set when the body was purged: only this tombstone remains. */
  purged?: true
  /** Set when the document was refused (for example its type was changed by a peer): the reason. */
  quarantined?: string
  /**
   * This catalog's change sequence number when the entry last changed. A
   * peer that remembers the highest number it has seen from us (a
   * checkpoint) asks only for entries above it on reconnect.
   */
  seq?: number
  /**
   * Other machines' vouches for the document's changes (identity/vouch.ts), one after another: what this peer
   * passes on with the document, so the next peer can check who made each change. This machine's own are made when
   * it sends the document.
   */
  vouches?: Uint8Array
  /** This machine has changed the document (it vouches for its heads when it sends it). */
  mine?: true
}
