/**
 * Rebuild the catalog from the documents in storage, when it is missing or
 * damaged. This is the one place that reads every document; it runs only on
 * that repair path.
 */
import * as A from "@automerge/automerge"
import { isValidDocumentId, type Chunk, type StorageAdapterInterface } from "@automerge/automerge-repo"
import { Catalog, type CatalogEntry } from "../catalog/Catalog.js"
import { modifiedAtOf, readEnvelope } from "../document/envelope.js"
import { sortedHeads } from "../document/heads.js"
import { isTypeName } from "../schema/TypeDefinition.js"
import { concatChunks, sortChunks } from "./StoredChunks.js"

export interface RebuildReport {
  documents: number
  /**
   * Documents found damaged: some or all of their stored chunks were
   * unreadable (and were dropped; the readable rest is kept), or the old
   * catalog listed them and nothing of them is stored. Peers are asked for them.
   */
  damaged: { id: string; reason: string }[]
}

/**
 * Load the catalog, rebuilt from the documents when it is missing (and
 * documents are stored) or damaged: `storageDamaged` says the storage skipped
 * damaged records on open, so it may lack entries or be an older copy.
 */
export async function openCatalog(
  storage: StorageAdapterInterface | undefined,
  storageDamaged: boolean,
): Promise<{ catalog: Catalog; repairs?: RebuildReport }> {
  const { catalog, found, damaged } = await Catalog.load(storage)
  const checksummed = (storage as { checksummed?: unknown } | undefined)?.checksummed === true
  if (
    storage &&
    (damaged ||
      hasImplausibleEntries(catalog, checksummed) ||
      (found && storageDamaged) ||
      (!found && (await storageHasDocuments(storage))))
  ) {
    const rebuilt = await rebuildCatalog(storage, catalog)
    return { catalog: rebuilt.catalog, repairs: rebuilt.report }
  }
  // Persist the new catalog's epoch at once, so peers' checkpoints stay valid across a restart.
  if (storage && !found) await catalog.compact()
  return { catalog }
}

/** True when storage holds any document chunk (so a missing catalog means "lost", not "new"). */
export async function storageHasDocuments(storage: StorageAdapterInterface): Promise<boolean> {
  let chunks: Awaited<ReturnType<StorageAdapterInterface["loadRange"]>>
  try {
    chunks = await storage.loadRange([])
  } catch {
    // An adapter that cannot list everything cannot be rebuilt from either.
    return false
  }
  return chunks.some(isDocumentChunk)
}

/** A chunk of a document's body. The catalog's own snapshot (`["cairn-catalog", "snapshot"]`) has the same shape of key, so the id must be a document id. */
function isDocumentChunk(chunk: { key: string[]; data?: Uint8Array }): boolean {
  const [id, kind] = chunk.key
  return (kind === "snapshot" || kind === "incremental") && id !== undefined && isValidDocumentId(id)
}

/** What a document id looks like (base58 of 16 bytes and a 4-byte checksum), without checking the checksum. */
const DOCUMENT_ID_SHAPE = /^[1-9A-HJ-NP-Za-km-z]{20,40}$/

/**
 * True when a catalog that parsed holds entries no Cairn peer could have
 * written: catalog records carry no checksum of their own, so on a storage
 * that keeps none either (IndexedDB, files) a flipped byte inside a string
 * (an id, a head, a type) still parses. Such a catalog is rebuilt. A storage
 * that checksums every record (`checksummed`, the Node peer's log) skips a
 * damaged one instead, so there an id is only checked for its shape: its own
 * checksum (base58check, two SHA-256 per id) took a third of opening a
 * directory of 10,000 documents (107 of 336 ms).
 */
export function hasImplausibleEntries(catalog: Catalog, checksummed = false): boolean {
  const validId = checksummed ? (id: string) => DOCUMENT_ID_SHAPE.test(id) : isValidDocumentId
  for (const entry of catalog.entries()) {
    if (!validId(entry.id) || !isTypeName(entry.type) || !entry.heads.every(head => HEAD.test(head))) return true
    if (
      !Number.isFinite(entry.createdAt) ||
      !Number.isFinite(entry.modifiedAt) ||
      (entry.deletedAt !== null && !Number.isFinite(entry.deletedAt))
    )
      return true
  }
  return false
}

const HEAD = /^[0-9a-f]{64}$/

export async function rebuildCatalog(
  storage: StorageAdapterInterface,
  previous?: Catalog,
): Promise<{ catalog: Catalog; report: RebuildReport }> {
  const catalog = Catalog.empty(storage, previous)
  const byDoc = new Map<string, Chunk[]>()
  for (const chunk of await storage.loadRange([])) {
    const id = chunk.key[0]!
    if (!chunk.data || !isDocumentChunk(chunk)) continue
    let list = byDoc.get(id)
    if (!list) byDoc.set(id, (list = []))
    list.push(chunk)
  }
  const report: RebuildReport = { documents: 0, damaged: [] }
  for (const [id, chunks] of byDoc) {
    // One bad chunk must not hide the healthy rest of the document: it is dropped (see StoredChunks.ts).
    const { good, bad } = await sortChunks(chunks.sort((a, b) => (a.key[1] === b.key[1] ? 0 : a.key[1] === "snapshot" ? -1 : 1)))
    await Promise.all(bad.map(key => storage.remove(key)))
    let doc: A.Doc<unknown> = A.init()
    if (good.length > 0) {
      try {
        doc = A.load(concatChunks(good))
      } catch {
        doc = A.loadIncremental(A.init(), concatChunks(good))
      }
    }
    if (A.getHeads(doc).length === 0) {
      report.damaged.push({ id, reason: "no readable changes" })
      continue
    }
    if (bad.length > 0)
      report.damaged.push({
        id,
        reason: `${bad.length} of ${chunks.length} stored chunks were unreadable (torn or corrupted) and were dropped`,
      })
    const envelope = readEnvelope(doc)
    const heads = sortedHeads(doc)
    const old = previous?.get(id)
    const entry: CatalogEntry = envelope.ok
      ? { id, ...pick(envelope.meta), modifiedAt: modifiedAtOf(doc), heads }
      : {
          id,
          type: old?.type ?? "unknown",
          createdAt: 0,
          createdBy: "",
          modifiedAt: modifiedAtOf(doc),
          deletedAt: null,
          heads,
          quarantined: envelope.reason,
        }
    catalog.set(entry)
    report.documents++
  }
  // Tombstones of purged documents have no body left to rebuild from: keep them from the old catalog.
  // A document the old catalog lists with nothing stored was lost here: keep its entry, without heads, so peers send it back.
  for (const entry of previous?.entries() ?? []) {
    // A damaged catalog can hold junk records: carry over only entries that name a document and a type.
    if (catalog.has(entry.id) || !isValidDocumentId(entry.id) || typeof entry.type !== "string") continue
    if (entry.purged) catalog.set(entry)
    else if (!entry.quarantined) {
      catalog.set({ ...entry, heads: [] })
      if (!report.damaged.some(d => d.id === entry.id))
        report.damaged.push({ id: entry.id, reason: "listed in the catalog but nothing of it is stored" })
    }
  }
  await catalog.compact()
  return { catalog, report }
}

function pick(meta: { type: string; createdAt: number; createdBy: string; deletedAt: number | null }) {
  return { type: meta.type, createdAt: meta.createdAt, createdBy: meta.createdBy, deletedAt: meta.deletedAt }
}
