/**
 * Documents refused as they arrived (quarantined): they are never shown as
 * their type, nor passed on. Listing them, showing one as it is stored,
 * checking one again, and dropping one here.
 */
import type { Catalog, CatalogEntry } from "../catalog/Catalog.js"
import { encodeDocument, type ExportedDocument } from "../codec/exportCodec.js"
import { NotFoundError, QuarantinedError } from "../errors.js"
import { modifiedAtOf } from "../document/envelope.js"
import { sortedHeads } from "../document/heads.js"
import { DamagedDocumentError } from "./DamagedDocuments.js"
import { stillRefused, type Definitions } from "./entries.js"
import type { DocumentStore } from "./DocumentStore.js"

export interface QuarantinedDocument {
  id: string
  type: string
  reason: string
  modifiedAt: number
}

export class Quarantine {
  constructor(
    private readonly store: DocumentStore,
    private readonly catalog: Catalog,
    private readonly definitions: Definitions,
    /** Resolves when the catalog's changes so far are on disk. */
    private readonly committed: () => Promise<void>,
  ) {}

  list(): QuarantinedDocument[] {
    return [...this.catalog.entries()]
      .filter(entry => entry.quarantined && !entry.purged)
      .map(entry => ({ id: entry.id, type: entry.type, reason: entry.quarantined!, modifiedAt: entry.modifiedAt }))
  }

  async document(id: string): Promise<ExportedDocument> {
    const entry = this.#entry(id)
    const doc = await this.store.loadStored(id)
    if (!doc) throw new DamagedDocumentError(id, "nothing readable is stored")
    return encodeDocument(id, doc, entry)
  }

  /**
   * Check a quarantined document afresh, with the definitions here now (as
   * if it had just arrived): listed again when it passes, else
   * QuarantinedError says why it still fails (it stays quarantined).
   */
  async release(id: string): Promise<void> {
    const previous = this.#entry(id)
    const doc = await this.store.loadStored(id)
    const reason = doc ? await stillRefused(id, doc, previous, this.definitions) : "nothing readable is stored"
    if (reason) throw new QuarantinedError(id, `${reason} (still; it stays quarantined)`)
    const { quarantined: _, ...entry } = previous
    this.store.noteEntry(
      { ...entry, heads: sortedHeads(doc!), deletedAt: doc!.deletedAt ?? null, modifiedAt: modifiedAtOf(doc!) },
      "remote",
    )
    await this.committed()
  }

  async drop(id: string): Promise<void> {
    const entry = this.#entry(id)
    this.store.drop({ ...entry, heads: [], purged: true, quarantined: `dropped here: ${entry.quarantined}`, modifiedAt: Date.now() })
    await this.committed()
  }

  #entry(id: string): CatalogEntry {
    const entry = this.catalog.get(id)
    if (!entry || entry.purged) throw new NotFoundError(id)
    if (!entry.quarantined) throw new Error(`document ${id} is not quarantined`)
    return entry
  }
}
