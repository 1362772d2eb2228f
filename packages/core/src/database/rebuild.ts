/**
 * Rebuild the catalog from the documents in storage, when it is missing or
 * damaged. This is the one place that reads every document; it runs only on
 * that repair path.
 */
import * as A from "@automerge/automerge"
import type { StorageAdapterInterface } from "@automerge/automerge-repo"
import { Catalog, type CatalogEntry } from "../catalog/Catalog.js"
import { modifiedAtOf, readEnvelope } from "../document/envelope.js"

export interface RebuildReport {
  documents: number
  /** Documents whose stored bytes could not be loaded at all. */
  damaged: { id: string; reason: string }[]
}

/** True when storage holds any document chunk (so a missing catalog means "lost", not "new"). */
export async function storageHasDocuments(storage: StorageAdapterInterface): Promise<boolean> {
  let chunks
  try {
    chunks = await storage.loadRange([])
  } catch {
    // An adapter that cannot list everything cannot be rebuilt from either.
    return false
  }
  return chunks.some(chunk => chunk.key[1] === "snapshot" || chunk.key[1] === "incremental")
}

export async function rebuildCatalog(storage: StorageAdapterInterface, previous?: Catalog): Promise<{ catalog: Catalog; report: RebuildReport }> {
  const catalog = Catalog.empty(storage)
  const byDoc = new Map<string, Uint8Array[]>()
  for (const chunk of await storage.loadRange([])) {
    const [id, kind] = chunk.key
    if (!id || !chunk.data || (kind !== "snapshot" && kind !== "incremental")) continue
    let list = byDoc.get(id)
    if (!list) byDoc.set(id, (list = []))
    list.push(chunk.data)
  }
  const report: RebuildReport = { documents: 0, damaged: [] }
  for (const [id, chunks] of byDoc) {
    let doc: A.Doc<unknown> | undefined
    try {
      doc = A.init()
      for (const chunk of chunks) {
        try {
          doc = A.loadIncremental(doc, chunk)
        } catch {
          // One bad chunk must not hide the healthy rest of the document.
        }
      }
    } catch (error) {
      report.damaged.push({ id, reason: String(error) })
      continue
    }
    if (A.getHeads(doc).length === 0) {
      report.damaged.push({ id, reason: "no readable changes" })
      continue
    }
    const envelope = readEnvelope(doc)
    const heads = [...A.getHeads(doc)].sort()
    const old = previous?.get(id)
    const entry: CatalogEntry = envelope.ok
      ? { id, ...pick(envelope.meta), modifiedAt: modifiedAtOf(doc), heads }
      : { id, type: old?.type ?? "unknown", createdAt: 0, createdBy: "", modifiedAt: modifiedAtOf(doc), deletedAt: null, heads, quarantined: envelope.reason }
    catalog.set(entry)
    report.documents++
  }
  // Tombstones of purged documents have no body left to rebuild from: keep them from the old catalog.
  for (const entry of previous?.entries() ?? []) {
    if (entry.purged && !catalog.has(entry.id)) catalog.set(entry)
  }
  await catalog.compact()
  return { catalog, report }
}

function pick(meta: { type: string; createdAt: number; createdBy: string; deletedAt: number | null }) {
  return { type: meta.type, createdAt: meta.createdAt, createdBy: meta.createdBy, deletedAt: meta.deletedAt }
}
