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
}
