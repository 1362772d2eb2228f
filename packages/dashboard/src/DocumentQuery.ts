/**
 * A page of a type's documents as `GET /api/docs` asks for it: text to
 * search for, a `where` as db.query takes it (JSON in the URL), a column to
 * sort by, and the slice to answer. Read from the URL here, refusing bad
 * input with a 400 that names it; run over the rows of DocumentIndex.
 *
 *   ?type=task&q=train&where={"done":false}&sort=title&order=asc&offset=200&limit=100
 */
import { assertTypeName, checkWhere, compareValues, matchesWhere, QueryError, type CatalogEntry } from "@cairn/core"
import { HttpError, parseWhole } from "./http.js"
import type { IndexedRow } from "./DocumentIndex.js"

export const DEFAULT_LIST_LIMIT = 200
export const MAX_LIST_LIMIT = 5000
const MAX_SEARCH_LENGTH = 500
const MAX_WHERE_LENGTH = 10_000
const META_COLUMNS = ["id", "createdAt", "modifiedAt"] as const

export interface DocumentQuery {
  type: string
  includeDeleted: boolean
  /** Lower-case text every match contains somewhere in its strings. */
  search: string
  where: Record<string, unknown> | undefined
  /** "id", "createdAt", "modifiedAt", or the path of a data field. */
  sort: { column: string; path: string[]; direction: "asc" | "desc" }
  offset: number
  limit: number
}

export function parseDocumentQuery(query: URLSearchParams): DocumentQuery {
  const type = query.get("type")
  if (!type) throw new HttpError(400, `say which type: GET /api/docs?type=NAME`)
  assertTypeName(type)
  const search = (query.get("q") ?? "").trim()
  if (search.length > MAX_SEARCH_LENGTH) throw new HttpError(400, `"q" is longer than ${MAX_SEARCH_LENGTH} characters`)
  const column = query.get("sort") || "modifiedAt"
  const path = (META_COLUMNS as readonly string[]).includes(column) ? [] : parseFieldPath(column)
  const order = query.get("order")
  if (order !== null && order !== "asc" && order !== "desc")
    throw new HttpError(400, `"order" must be "asc" or "desc" (got ${JSON.stringify(order)})`)
  // Times read newest first unless asked otherwise; names and values from the start of the alphabet.
  const direction = order ?? (column === "createdAt" || column === "modifiedAt" ? "desc" : "asc")
  return {
    type,
    includeDeleted: ["1", "true"].includes(query.get("deleted") ?? ""),
    search: search.toLowerCase(),
    where: parseWhere(query.get("where")),
    sort: { column, path, direction },
    offset: parseWhole("offset", query.get("offset"), 0, Number.MAX_SAFE_INTEGER, 0),
    limit: parseWhole("limit", query.get("limit"), 1, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT),
  }
}

/** True when the query needs every document's data (a search, a filter, a field to sort by), not only the catalog. */
export function needsIndex(query: DocumentQuery): boolean {
  return query.search !== "" || query.where !== undefined || query.sort.path.length > 0
}

/** Catalog entries in the order of a query that sorts by id or a time (see needsIndex), ties by id. */
export function sortEntries(entries: CatalogEntry[], sort: DocumentQuery["sort"]): CatalogEntry[] {
  const sign = sort.direction === "desc" ? -1 : 1
  const column = sort.column as "id" | "createdAt" | "modifiedAt"
  return entries.sort((a, b) => sign * compareValues(a[column], b[column]) || (a.id < b.id ? -1 : 1))
}

/** The rows that match, in order (all of them: the caller slices the page and counts the total). */
export function runDocumentQuery(rows: IndexedRow[], query: DocumentQuery): IndexedRow[] {
  const { search, where } = query
  if (search === "" && where === undefined) return sorted(rows, query.sort)
  return sorted(rows, query.sort).filter(
    ({ doc }) => (search === "" || doc.text.includes(search)) && (where === undefined || matchesWhere(doc.data, where)),
  )
}

/**
 * Orders already worked out, by the rows they sort: DocumentIndex answers
 * the same array while nothing changed, so paging through a sorted list or
 * searching it sorts once.
 */
const orders = new WeakMap<IndexedRow[], Map<string, IndexedRow[]>>()

function sorted(rows: IndexedRow[], sort: DocumentQuery["sort"]): IndexedRow[] {
  const key = `${sort.direction} ${sort.column}`
  const known = orders.get(rows)?.get(key)
  if (known) return known
  const sign = sort.direction === "desc" ? -1 : 1
  const read = (row: IndexedRow): unknown => (sort.path.length ? valueAt(row.doc.data, sort.path) : row.entry[sort.column as "id"])
  const keyed = rows.map(row => ({ row, key: read(row), id: row.entry.id }))
  keyed.sort((a, b) => {
    // A document without the field comes last whichever way the column is sorted.
    const missingA = a.key === undefined || a.key === null
    const missingB = b.key === undefined || b.key === null
    if (missingA !== missingB) return missingA ? 1 : -1
    return sign * compareValues(a.key, b.key) || (a.id < b.id ? -1 : 1)
  })
  const order = keyed.map(({ row }) => row)
  if (!orders.has(rows)) orders.set(rows, new Map())
  orders.get(rows)!.set(key, order)
  return order
}

function parseWhere(raw: string | null): Record<string, unknown> | undefined {
  if (raw === null || raw.trim() === "") return undefined
  if (raw.length > MAX_WHERE_LENGTH) throw new HttpError(400, `"where" is longer than ${MAX_WHERE_LENGTH} characters`)
  let where: unknown
  try {
    where = JSON.parse(raw)
  } catch (error) {
    throw new HttpError(400, `"where" is not valid JSON: ${(error as Error).message}`)
  }
  try {
    checkWhere(where)
  } catch (error) {
    if (error instanceof QueryError) throw new HttpError(400, error.message)
    throw error
  }
  return where
}

/** A data field's path, dotted: "title", "address.city". */
function parseFieldPath(column: string): string[] {
  const path = column.split(".")
  if (path.some(key => key === "" || key === "__proto__" || key === "constructor" || key === "prototype"))
    throw new HttpError(
      400,
      `"sort" must be id, createdAt, modifiedAt or a field path like "title" or "address.city" (got ${JSON.stringify(column)})`,
    )
  return path
}

function valueAt(data: Record<string, unknown>, path: string[]): unknown {
  let value: unknown = data
  for (const key of path) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}
