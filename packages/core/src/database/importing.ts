/**
 * Importing documents: a whole history (the very same document, merged with
 * every other copy of it), or JSON alone (changes on top, or a new
 * document). See Database.importHistory and Database.importDocument.
 */
import * as A from "@automerge/automerge"
import type { Catalog } from "../catalog/Catalog.js"
import type { DecodedDocument } from "../codec/exportCodec.js"
import { assignData } from "../document/assign.js"
import type { Doc } from "../document/Document.js"
import { readEnvelope, type Envelope } from "../document/envelope.js"
import { sameHeads } from "../document/heads.js"
import { CodecError, ImmutableTypeError, PurgedError } from "../errors.js"
import { toTagged } from "../schema/values.js"
import type { Transaction } from "./Transaction.js"

/** What an import needs of the database. */
export interface ImportTarget {
  catalog: Catalog
  /** Apply bytes as from a peer (see Replica.ingest); `refuse` is told of a document not changed, and why. */
  ingest(docs: { id: string; bytes: Uint8Array; vouches?: Uint8Array }[], refuse: (id: string, reason: string) => void): Promise<unknown>
  get(id: string): Promise<Doc>
  change(type: string, id: string, mutate: (draft: any) => void, options: { message?: string }): Promise<unknown>
  /** True when this peer has a definition of the type. */
  typed(type: string): boolean
  transaction(): Transaction
}

export type ImportMessage = { message?: string }

export async function importHistory(
  target: ImportTarget,
  id: string,
  bytes: Uint8Array,
  json: DecodedDocument | undefined,
  options: ImportMessage,
): Promise<"created" | "merged" | "changed" | "unchanged"> {
  let doc: A.Doc<Envelope>
  try {
    doc = A.load<Envelope>(bytes)
  } catch (error) {
    throw new CodecError(`the history of ${id} does not load: ${(error as Error).message}`)
  }
  const envelope = readEnvelope(doc)
  if (!envelope.ok) throw new CodecError(`the history of ${id} is refused: ${envelope.reason}`)
  const existing = target.catalog.get(id)
  if (existing && existing.type !== envelope.meta.type)
    throw new ImmutableTypeError(`document ${id} is a ${existing.type} here; its history says ${envelope.meta.type}`)
  if (existing?.purged) throw new PurgedError(id)
  const before = existing?.heads ?? []
  let refused: string | undefined
  await target.ingest([{ id, bytes, ...(json?.vouches ? { vouches: json.vouches } : {}) }], (_, reason) => {
    refused = reason
  })
  if (refused !== undefined) throw new CodecError(`the history of ${id} is refused: ${refused}`)
  const entry = target.catalog.get(id)
  if (entry?.quarantined && !existing?.quarantined) throw new CodecError(`the history of ${id} is refused: ${entry.quarantined}`)
  // JSON exported beside the history and edited since: what the person changed goes on top, as changes. Unedited
  // JSON is the history's own data and changes nothing (writing it would undo what happened after the export).
  if (
    json &&
    JSON.stringify(toTagged(json.data)) !== JSON.stringify(toTagged(doc.data)) &&
    (await importDocument(target, json, options)).result === "changed"
  )
    return "changed"
  if (!existing) return "created"
  return sameHeads(entry?.heads ?? [], before) ? "unchanged" : "merged"
}

export async function importDocument(
  target: ImportTarget,
  input: DecodedDocument,
  options: ImportMessage,
): Promise<{ result: "created" | "changed" | "unchanged"; id: string }> {
  const existing = target.catalog.get(input.id)
  if (existing) {
    if (existing.type !== input.type)
      throw new ImmutableTypeError(`document ${input.id} is a ${existing.type} here; it cannot be imported as a ${input.type}`)
    const current = (await target.get(input.id)).data as Record<string, unknown>
    const typed = target.typed(input.type)
    await target.change(input.type, input.id, draft => assignData(draft, current, input.data, typed), options)
    return { result: sameHeads(target.catalog.get(input.id)!.heads, existing.heads) ? "unchanged" : "changed", id: input.id }
  }
  const tx = target.transaction()
  const id = tx.createStored({
    type: input.type,
    data: input.data,
    typeVersion: input.typeVersion,
    createdAt: input.createdAt,
    deletedAt: input.deletedAt,
  })
  await tx.commit(options.message)
  return { result: "created", id }
}
