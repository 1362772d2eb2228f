/**
 * A document as the app reads it: metadata plus data in app form (text and
 * string registers are strings, counters are numbers, and fields the
 * definition fills in are there). A snapshot: reading it never changes, and
 * a change gives a new one.
 */
import type * as A from "@automerge/automerge"
import type { CatalogEntry } from "../catalog/Catalog.js"
import { dataFieldOf, type DataOf, type TypeDefinition } from "../schema/TypeDefinition.js"
import { lensForward } from "../schema/lenses.js"
import { toPlain, withDefaults } from "../schema/values.js"
import type { Envelope } from "./envelope.js"

export interface Doc<Data = Record<string, unknown>> {
  readonly id: string
  readonly type: string
  /** Milliseconds since the epoch. */
  readonly createdAt: number
  /** The machine id that created it. */
  readonly createdBy: string
  /** Time of the latest change, in milliseconds. */
  readonly modifiedAt: number
  /** When it was deleted, or null. */
  readonly deletedAt: number | null
  readonly data: Data
}

/** The document a type reference reads as: typed data for a definition, untyped for a type name. */
export type DocOf<R> = R extends TypeDefinition<any> ? Doc<DataOf<R>> : Doc

const cache = new WeakMap<object, { definition: TypeDefinition | undefined; doc: Doc<any> }>()

/**
 * The app-form snapshot of an Automerge document (cached per Automerge
 * snapshot). With the type's definition, fields the document lacks read as
 * their defaults (see withDefaults), and a document created at an older
 * version reads through the definition's lens (see schema/lenses.ts);
 * nothing is written to the document.
 */
export function materialize<Data>(id: string, doc: A.Doc<Envelope>, entry: CatalogEntry, definition?: TypeDefinition): Doc<Data> {
  const cached = cache.get(doc)
  if (cached && cached.definition === definition && cached.doc.modifiedAt === entry.modifiedAt) return cached.doc as Doc<Data>
  const result: Doc<Data> = Object.freeze({
    id,
    type: entry.type,
    createdAt: doc.createdAt,
    createdBy: doc.createdBy.val,
    modifiedAt: entry.modifiedAt,
    deletedAt: doc.deletedAt ?? null,
    data: (definition ? readAs(definition, doc) : toPlain(doc.data)) as Data,
  })
  cache.set(doc, { definition, doc: result })
  return result
}

/** A document's data in the shape of `definition`'s version: through the lens from the version it was created at. */
function readAs(definition: TypeDefinition, doc: A.Doc<Envelope>): unknown {
  const ops = definition.lensFrom(doc.typeVersion)
  const data = ops.length === 0 ? doc.data : lensForward(ops, toPlain(doc.data) as Record<string, unknown>)
  return toPlain(withDefaults(dataFieldOf(definition), data))
}
