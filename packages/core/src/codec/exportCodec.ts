/**
 * The export codec: a document to and from human-readable JSON that keeps
 * the field kinds (`{"$text": "…"}`, `{"$counter": 3}`, a string is a
 * register) and the metadata, so an export re-imports to the same data.
 */
import type * as A from "@automerge/automerge"
import { isValidDocumentId } from "@automerge/automerge-repo"
import type { CatalogEntry } from "../catalog/Catalog.js"
import type { Envelope } from "../document/envelope.js"
import { CodecError, ValidationError } from "../errors.js"
import { fromHex } from "../identity/actor.js"
import { isTypeName } from "../schema/TypeDefinition.js"
import { fromTaggedData, isPlainObject, toTagged } from "../schema/values.js"

export const EXPORT_FORMAT = "cairn.document/1"

/** One exported document. */
export interface ExportedDocument {
  format: typeof EXPORT_FORMAT
  id: string
  type: string
  typeVersion: number
  createdAt: number
  createdBy: string
  modifiedAt: number
  deletedAt: number | null
  /** Tagged JSON: a string is a register, `{"$text"}` text, `{"$counter"}` a counter. */
  data: Record<string, unknown>
  /**
   * The vouches of the machines whose changes the document's history holds (identity/vouch.ts), hex, one after
   * another: importing the history checks them as a peer's changes are checked.
   */
  vouches?: string
}

/** A decoded export, ready to import: data is in stored form. */
export interface DecodedDocument extends Omit<ExportedDocument, "data" | "format" | "vouches"> {
  data: Record<string, unknown>
  vouches?: Uint8Array
}

/** Encode a document (its Automerge state and catalog entry) as exportable JSON. */
export function encodeDocument(id: string, doc: A.Doc<Envelope>, entry: CatalogEntry): ExportedDocument {
  return {
    format: EXPORT_FORMAT,
    id,
    type: entry.type,
    typeVersion: typeof doc.typeVersion === "number" ? doc.typeVersion : 1,
    createdAt: doc.createdAt,
    createdBy: doc.createdBy.val,
    modifiedAt: entry.modifiedAt,
    deletedAt: doc.deletedAt ?? null,
    data: toTagged(doc.data) as Record<string, unknown>,
  }
}

/** Decode exported JSON (a string or a parsed value). Throws CodecError naming what is wrong. */
export function decodeDocument(input: unknown, source = "export"): DecodedDocument {
  let json = input
  if (typeof input === "string") {
    try {
      json = JSON.parse(input)
    } catch (error) {
      throw new CodecError(`${source}: not valid JSON (${(error as Error).message})`)
    }
  }
  if (!isPlainObject(json)) throw new CodecError(`${source}: expected a JSON object`)
  if (json.format !== EXPORT_FORMAT)
    throw new CodecError(`${source}: "format" must be ${JSON.stringify(EXPORT_FORMAT)}, got ${JSON.stringify(json.format)}`)
  if (typeof json.id !== "string" || !isValidDocumentId(json.id)) throw new CodecError(`${source}: "id" is not a valid document id`)
  if (!isTypeName(json.type)) throw new CodecError(`${source}: "type" ${JSON.stringify(json.type)} is not a valid type name`)
  for (const key of ["createdAt", "modifiedAt"] as const) {
    if (typeof json[key] !== "number" || !Number.isFinite(json[key])) throw new CodecError(`${source}: "${key}" must be a number`)
  }
  if (!Number.isInteger(json.typeVersion) || (json.typeVersion as number) < 1)
    throw new CodecError(`${source}: "typeVersion" must be a positive integer`)
  if (typeof json.createdBy !== "string") throw new CodecError(`${source}: "createdBy" must be a string`)
  if (json.deletedAt !== null && typeof json.deletedAt !== "number") throw new CodecError(`${source}: "deletedAt" must be a number or null`)
  if (!isPlainObject(json.data)) throw new CodecError(`${source}: "data" must be an object`)
  let vouches: Uint8Array | undefined
  if (json.vouches !== undefined) {
    if (typeof json.vouches !== "string" || !/^(?:[0-9a-f]{256})*$/.test(json.vouches))
      throw new CodecError(`${source}: "vouches" must be hex, 128 bytes a vouch`)
    vouches = fromHex(json.vouches)
  }
  let data: Record<string, unknown>
  try {
    data = fromTaggedData(json.data)
  } catch (error) {
    if (error instanceof ValidationError) throw new CodecError(`${source}: ${error.message}`)
    throw error
  }
  return {
    id: json.id,
    type: json.type,
    typeVersion: json.typeVersion as number,
    createdAt: json.createdAt as number,
    createdBy: json.createdBy,
    modifiedAt: json.modifiedAt as number,
    deletedAt: json.deletedAt as number | null,
    data,
    ...(vouches ? { vouches } : {}),
  }
}
