/**
 * Queries over the documents of one type: a filter, a sort and a limit.
 * The catalog narrows to the type first, so other types are never loaded.
 */
import type { Doc } from "../document/Document.js"
import { QueryError } from "../errors.js"

/**
 * Conditions on top-level data fields (each equal to its value, or a
 * comparison), or a predicate over the whole document.
 */
export type Where<Data> = Partial<{ [K in keyof Data]: Data[K] | Comparison<Data[K]> }> | ((doc: Doc<Data>) => boolean)

/**
 * A comparison instead of a value: `{ votes: { $gte: 3 } }`. An object whose
 * keys all start with "$" is read as one; every condition in it must hold.
 * `$contains` is a substring of a string (ignoring case) or an element of a
 * list. A missing field fails every comparison but `$ne`.
 */
export interface Comparison<Value> {
  $ne?: Value
  $gt?: Value
  $gte?: Value
  $lt?: Value
  $lte?: Value
  $contains?: unknown
}

const OPERATORS = ["$ne", "$gt", "$gte", "$lt", "$lte", "$contains"] as const

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
    checkWhere(where)
    result = result.filter(doc => matchesWhere(doc.data as Record<string, unknown>, where))
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

/** Check a `where` object (as JSON from outside, say); throws QueryError naming what is wrong. */
export function checkWhere(where: unknown): asserts where is Record<string, unknown> {
  if (typeof where !== "object" || where === null || Array.isArray(where))
    throw new QueryError(`"where" must be an object of field names to values, e.g. {"done": false} (got ${describe(where)})`)
  for (const [field, condition] of Object.entries(where)) {
    if (field === "") throw new QueryError(`"where" names an empty field`)
    if (!isComparison(condition)) continue
    for (const operator of Object.keys(condition))
      if (!(OPERATORS as readonly string[]).includes(operator))
        throw new QueryError(
          `"where" on ${JSON.stringify(field)} has the unknown operator ${JSON.stringify(operator)}: use ${OPERATORS.join(", ")}`,
        )
  }
}

/** True when the data meets every condition of a checked `where` (see checkWhere). */
export function matchesWhere(data: Record<string, unknown>, where: Record<string, unknown>): boolean {
  for (const [field, condition] of Object.entries(where)) {
    const value = Object.hasOwn(data, field) ? data[field] : undefined
    if (!isComparison(condition)) {
      if (!equal(value, condition)) return false
      continue
    }
    for (const [operator, operand] of Object.entries(condition)) if (!compares(value, operator, operand)) return false
  }
  return true
}

function isComparison(condition: unknown): condition is Record<string, unknown> {
  if (typeof condition !== "object" || condition === null || Array.isArray(condition)) return false
  const keys = Object.keys(condition)
  return keys.length > 0 && keys.every(key => key.startsWith("$"))
}

function compares(value: unknown, operator: string, operand: unknown): boolean {
  if (operator === "$ne") return !equal(value, operand)
  if (operator === "$contains") {
    if (typeof value === "string") return typeof operand === "string" && value.toLowerCase().includes(operand.toLowerCase())
    return Array.isArray(value) && value.some(element => equal(element, operand))
  }
  // Order only between two numbers or two strings: a missing or differently kinded value fails.
  const comparable =
    (typeof value === "number" && typeof operand === "number") || (typeof value === "string" && typeof operand === "string")
  if (!comparable) return false
  const order = compareValues(value, operand)
  if (operator === "$gt") return order > 0
  if (operator === "$gte") return order >= 0
  if (operator === "$lt") return order < 0
  return order <= 0
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list"
  return value === null ? "null" : typeof value
}

/** Order two field values: numbers by value, anything else as text; a missing (or null) value is the largest. */
export function compareValues(a: unknown, b: unknown): number {
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
