/**
 * Queries over the documents of one type: a filter, a sort and a limit.
 * The catalog narrows to the type first, so other types are never loaded.
 */
import type { Doc } from "../document/Document.js"

/** Equality on top-level data fields, or a predicate over the whole document. */
export type Where<Data> = Partial<{ [K in keyof Data]: Data[K] }> | ((doc: Doc<Data>) => boolean)

/** Sort by a data field or a metadata field; or a comparator. */
export type SortKey<Data> = Extract<keyof Data, string> | "createdAt" | "modifiedAt" | "id"
export type OrderBy<Data> = SortKey<Data> | { by: SortKey<Data>; direction?: "asc" | "desc" } | ((a: Doc<Data>, b: Doc<Data>) => number)

export interface QueryOptions<Data> {
  where?: Where<Data>
  orderBy?: OrderBy<Data>
  limit?: number
  /** Include deleted documents (default false). */
  includeDeleted?: boolean
}

/** Apply a query to loaded documents. */
export function runQuery<Data>(docs: Doc<Data>[], options: QueryOptions<Data>): Doc<Data>[] {
  let result = options.includeDeleted ? docs : docs.filter(doc => doc.deletedAt === null)
  const where = options.where
  if (typeof where === "function") {
    result = result.filter(where)
  } else if (where) {
    const pairs = Object.entries(where)
    result = result.filter(doc => pairs.every(([key, value]) => equal((doc.data as Record<string, unknown>)[key], value)))
  }
  result = [...result].sort(comparator(options.orderBy))
  if (options.limit !== undefined) result = result.slice(0, Math.max(0, options.limit))
  return result
}

function comparator<Data>(orderBy: OrderBy<Data> | undefined): (a: Doc<Data>, b: Doc<Data>) => number {
  if (typeof orderBy === "function") return orderBy
  // Default: most recently modified first, then id for a stable order.
  if (orderBy === undefined) return (a, b) => b.modifiedAt - a.modifiedAt || (a.id < b.id ? -1 : 1)
  const { by, direction } = typeof orderBy === "string" ? { by: orderBy, direction: "asc" as const } : orderBy
  const sign = direction === "desc" ? -1 : 1
  const read = (doc: Doc<Data>): unknown =>
    by === "createdAt" || by === "modifiedAt" || by === "id" ? doc[by as "id"] : (doc.data as Record<string, unknown>)[by]
  return (a, b) => sign * compareValues(read(a), read(b)) || (a.id < b.id ? -1 : 1)
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0
  if (a === undefined || a === null) return 1
  if (b === undefined || b === null) return -1
  if (typeof a === "number" && typeof b === "number") return a - b
  return String(a) < String(b) ? -1 : 1
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  return JSON.stringify(a) === JSON.stringify(b)
}
