/**
 * A document's history as a person reads it: each change with its machine
 * (by name where this peer knows one), time, message and what it changed
 * field by field; the document as it was at any change, read-only; and a
 * field of such a version written back as a new change. Diffs are worked
 * out only for the page of changes asked for, so a document with 10,000
 * changes opens as fast as one with ten. A change's diff never changes, so
 * it is kept (the most recently shown); so is each recently opened
 * document's list of changes, while its heads stay the same.
 */
import { applyEdit, EditError, LruCache, type Database, type Edit as CoreEdit, type FieldDiff, type HistoryEntry } from "@cairn/core"
import { HttpError, isObject, parseWhole } from "./http.js"
import type { ChangeView, HistoryPage, VersionView } from "./shapes.js"

const DEFAULT_PAGE = 20
const MAX_PAGE = 200

export class DocumentHistory {
  readonly #histories = new LruCache<string, { heads: string; entries: HistoryEntry[] }>(16)
  readonly #diffs = new LruCache<string, FieldDiff[]>(2000)

  constructor(
    private readonly db: Database,
    /** The name a machine goes by, where this peer knows it. */
    private readonly nameOf: (machineId: string) => string | undefined,
  ) {}

  /** Changes newest first, `offset` of them skipped, each with its diff. */
  async page(id: string, query: URLSearchParams): Promise<HistoryPage> {
    const offset = parseWhole("offset", query.get("offset"), 0, Number.MAX_SAFE_INTEGER, 0)
    const limit = parseWhole("limit", query.get("limit"), 1, MAX_PAGE, DEFAULT_PAGE)
    const all = await this.entries(id)
    // Newest first: the page at `offset` is the `limit` changes before the last `offset`.
    const shown = all.slice(Math.max(0, all.length - offset - limit), Math.max(0, all.length - offset)).reverse()
    const changes: ChangeView[] = []
    for (const change of shown) {
      const name = this.nameOf(change.machineId)
      changes.push({ ...change, ...(name ? { machineName: name } : {}), diff: await this.#diff(id, change.hash) })
    }
    return { id, total: all.length, offset, limit, changes }
  }

  /** The document's changes, oldest first (as db.history), kept while its heads stay the same. */
  async entries(id: string): Promise<HistoryEntry[]> {
    const heads = this.db.catalog.get(id)?.heads.join() ?? ""
    const known = this.#histories.get(id)
    if (known && known.heads === heads) return known.entries
    const entries = await this.db.history(id)
    this.#histories.set(id, { heads, entries })
    return entries
  }

  async #diff(id: string, hash: string): Promise<FieldDiff[]> {
    const key = `${id} ${hash}`
    const known = this.#diffs.get(key)
    if (known) return known
    const diff = await this.db.changeDiff(id, hash)
    this.#diffs.set(key, diff)
    return diff
  }

  /** The document as it was just after change `hash`, with that change. */
  async version(id: string, hash: string): Promise<VersionView> {
    const { format: _, ...document } = await this.db.exportDocument(id, hash)
    const change = (await this.entries(id)).find(entry => entry.hash === hash)!
    const name = this.nameOf(change.machineId)
    const definition = this.db.definition(document.type)?.toJSON() ?? null
    return { document, change: { ...change, ...(name ? { machineName: name } : {}) }, definition }
  }

  /** Write the value `path` had just after change `hash` (or its absence) as a new change, saying so in its message. */
  async restore(id: string, body: unknown): Promise<void> {
    if (!isObject(body) || typeof body.hash !== "string")
      throw new HttpError(400, `send {"hash": CHANGE, "path": ["field", ...]}: the change to restore from and the field`)
    const { hash } = body
    const path = body.path
    if (
      !Array.isArray(path) ||
      path.length === 0 ||
      !path.every(step => (typeof step === "string" && step !== "") || Number.isInteger(step))
    )
      throw new HttpError(400, `"path" must be a non-empty array of keys and list indexes, e.g. ["title"]`)
    const old = await this.db.exportDocument(id, hash)
    const value = taggedValueAt(old.data, path)
    const current = await this.db.exportDocument(id)
    const now = taggedValueAt(current.data, path)
    const field = path.join(".")
    const edit: CoreEdit =
      value === undefined
        ? { op: "unset", path }
        : isObject(value) && typeof value.$text === "string" && isObject(now) && typeof now.$text === "string"
          ? { op: "settext", path, text: value.$text }
          : { op: "set", path, value, force: true }
    const fields = this.db.definition(current.type)?.toJSON().fields
    await this.db.change(
      current.type,
      id,
      draft => {
        try {
          applyEdit(draft, edit, fields)
        } catch (error) {
          if (error instanceof EditError) throw new HttpError(400, `cannot restore ${field}: ${error.message}`)
          throw error
        }
      },
      { message: `restored ${field} from ${hash.slice(0, 8)}` },
    )
  }
}

/** The tagged value at `path`, or undefined where there is none. */
function taggedValueAt(data: unknown, path: (string | number)[]): unknown {
  let value = data
  for (const step of path) {
    if (isObject(value) && "$map" in value && isObject(value.$map)) value = value.$map
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, step)) return undefined
    value = (value as Record<string | number, unknown>)[step]
  }
  return value
}
