/**
 * A document's past: its changes, its state at a change, and the values
 * concurrently written to a register.
 */
import * as A from "@automerge/automerge"
import type { Catalog, CatalogEntry } from "../catalog/Catalog.js"
import { encodeDocument, type ExportedDocument } from "../codec/exportCodec.js"
import { materialize, type Doc } from "../document/Document.js"
import { changeTimeMs, type Envelope } from "../document/envelope.js"
import { NotFoundError, UnknownChangeError } from "../errors.js"
import { machineIdOfActor } from "../identity/actor.js"
import type { TypeDefinition } from "../schema/TypeDefinition.js"
import { toPlain } from "../schema/values.js"
import { diffOfChange, type FieldDiff } from "./changeDiff.js"
import type { DocumentStore } from "./DocumentStore.js"

export interface HistoryEntry {
  hash: string
  machineId: string
  /** Milliseconds since the epoch. */
  time: number
  message: string | null
}

/** The changes of a document, oldest first. */
export function historyOf(doc: A.Doc<Envelope>): HistoryEntry[] {
  return A.getChangesMetaSince(doc, []).map(change => ({
    hash: change.hash,
    machineId: machineIdOfActor(change.actor),
    time: changeTimeMs(change.time),
    message: change.message ?? null,
  }))
}

/** The document as it was at `heads`, with the catalog entry it had then (modifiedAt: the time of those changes). Throws UnknownChangeError for a hash it does not have. */
export function stateAt(
  id: string,
  current: A.Doc<Envelope>,
  entry: CatalogEntry,
  heads: string | string[],
): { at: A.Doc<Envelope>; entry: CatalogEntry } {
  const hashes = Array.isArray(heads) ? heads : [heads]
  // Automerge views an unknown (well-formed) hash as an empty document instead of refusing it.
  const unknown = hashes.find(hash => !/^[0-9a-f]{64}$/.test(hash) || A.inspectChange(current, hash) === null)
  if (unknown !== undefined) throw new UnknownChangeError(id, unknown)
  const at = A.view(current, hashes) as A.Doc<Envelope>
  const time = Math.max(0, ...A.getHeads(at).map(hash => changeTimeMs((A.inspectChange(at, hash) as { time: number }).time)))
  return { at, entry: { ...entry, modifiedAt: time } }
}

/** Every value concurrently written to the register at `path` (one value when there is no conflict). */
export function conflictsAt(id: string, doc: A.Doc<Envelope>, path: (string | number)[]): unknown[] {
  if (path.length === 0) throw new TypeError("conflicts needs the path of a field")
  let parent: any = doc.data
  for (const key of path.slice(0, -1)) parent = parent?.[key]
  if (parent === undefined || parent === null) throw new NotFoundError(`${id} at ${path.join(".")}`)
  const key = path.at(-1)!
  const values = A.getConflicts(parent, key as never)
  if (values) return Object.values(values).map(toPlain)
  // Automerge reports nothing for a register with a single value: that value is the answer.
  return parent[key] === undefined ? [] : [toPlain(parent[key])]
}

/** The reads of a document's past that Database offers (each documented there). */
export class DocumentPast {
  constructor(
    private readonly store: DocumentStore,
    private readonly catalog: Catalog,
    private readonly definition: (type: string) => TypeDefinition | undefined,
  ) {}

  async conflicts(id: string, path: (string | number)[]): Promise<unknown[]> {
    return conflictsAt(id, await this.store.read(id), path)
  }

  async history(id: string): Promise<HistoryEntry[]> {
    return historyOf(await this.store.read(id))
  }

  async changeDiff(id: string, hash: string): Promise<FieldDiff[]> {
    return diffOfChange(id, await this.store.read(id), hash)
  }

  async view(id: string, heads: string | string[]): Promise<Doc> {
    const { at, entry } = await this.#at(id, heads)
    return { ...materialize(id, at, entry, this.definition(entry.type)), modifiedAt: entry.modifiedAt }
  }

  async exportDocument(id: string, heads?: string | string[]): Promise<ExportedDocument> {
    if (heads === undefined) return encodeDocument(id, await this.store.read(id), this.catalog.get(id)!)
    const { at, entry } = await this.#at(id, heads)
    return encodeDocument(id, at, entry)
  }

  async exportHistory(id: string): Promise<Uint8Array> {
    await this.store.read(id)
    const bytes = await this.store.readStored(id)
    if (!bytes) throw new NotFoundError(id)
    return bytes
  }

  async #at(id: string, heads: string | string[]): Promise<{ at: A.Doc<Envelope>; entry: CatalogEntry }> {
    return stateAt(id, await this.store.read(id), this.catalog.get(id)!, heads)
  }
}
