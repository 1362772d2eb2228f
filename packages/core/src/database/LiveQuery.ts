/**
 * A live query: the results of a query over one type, given again whenever
 * a document of that type changes. The documents are read once; after that
 * only the ones that changed are read again, and the query runs over the
 * documents in memory. Changes that come together (a batch of 250 from a
 * peer, ingested one document after another) give one new result, and
 * results come at most every UPDATE_INTERVAL_MS, or less often when
 * producing one (the query and the listener: a page rendering the list)
 * takes long.
 *
 * Running the whole query again on every change read every document of the
 * type once per change: a page listing 10,000 tasks that was pulling them
 * in batches queued millions of IndexedDB reads, every write behind them,
 * and the pull with it (it stopped at 2,250).
 */
import type * as A from "@automerge/automerge"
import { isVisible, type Catalog } from "../catalog/Catalog.js"
import { materialize, type Doc } from "../document/Document.js"
import type { TypeDefinition } from "../schema/TypeDefinition.js"
import type { Envelope } from "../document/envelope.js"
import { forEachLimited } from "../helpers/forEachLimited.js"
import { DamagedDocumentError } from "./DamagedDocuments.js"
import { runQuery, type QueryOptions } from "./Query.js"

/** Reads in flight at once (see forEachLimited). */
export const READ_CONCURRENCY = 32

/** Read `ids` as `definition` reads them (db.query), skipping a document with nothing readable left (`damaged()` reports it). */
export async function readDocuments(
  source: { read(id: string): Promise<A.Doc<Envelope>> },
  catalog: Catalog,
  ids: readonly string[],
  definition: TypeDefinition | undefined,
): Promise<Doc[]> {
  const docs: Doc[] = []
  // A few at a time: reading thousands at once holds thousands of Automerge documents alive together, and garbage
  // collection then takes most of the time (10,000 documents: 17 s of CPU at once, 3 to 4 s a few at a time).
  await forEachLimited(ids, READ_CONCURRENCY, async id => {
    try {
      docs.push(materialize(id, await source.read(id), catalog.get(id)!, definition))
    } catch (error) {
      // It must not hide the healthy rest.
      if (!(error instanceof DamagedDocumentError)) throw error
    }
  })
  return docs
}

/**
 * The shortest time between two results. An initial sync delivers its
 * documents one by one: a result for each meant 10,000 sorts, and 10,000
 * renders of a list growing to 10,000 rows.
 */
export const UPDATE_INTERVAL_MS = 100
/**
 * Between two results, at least this many times what the last one took: a
 * page rendering 10,000 rows on every result of a 100,000-document initial
 * sync had no time left to store what it received (35 documents a second).
 */
const BUSY_FACTOR = 4

export interface LiveQuerySource {
  catalog: Catalog
  /** The current state of a document (throws if it cannot be read). */
  read(id: string): Promise<A.Doc<Envelope>>
  /** Calls `listener` with the id of every document of `type` that changed or was quarantined; returns the function that stops. */
  watch(type: string, listener: (id: string) => void): () => void
  /** True once the database is closed. */
  closed(): boolean
  /** The definition results read with (through its lens, with its defaults), as `query` reads them; asked each time, since a newer version may be learnt meanwhile. */
  definition?(): TypeDefinition | undefined
}

/** Start a live query; returns the function that stops it. */
export function startLiveQuery(
  source: LiveQuerySource,
  type: string,
  options: QueryOptions<any>,
  listener: (docs: Doc[]) => void,
): () => void {
  const docs = new Map<string, Doc>()
  let dirty: Set<string> | "all" = "all"
  let scheduled = false
  let running = false
  let active = true
  let deliveredAt = -Infinity
  let cost = 0
  const live = () => active && !source.closed()
  const shown = (id: string) => isVisible(source.catalog.get(id), options)
  const reread = async (id: string) => {
    if (!shown(id)) return void docs.delete(id)
    try {
      const doc = await source.read(id)
      if (shown(id)) docs.set(id, materialize(id, doc, source.catalog.get(id)!, source.definition?.()))
      else docs.delete(id)
    } catch {
      // Gone meanwhile (purged), or nothing readable left (reported by `damaged()`): not in the results.
      docs.delete(id)
    }
  }
  const refresh = async () => {
    scheduled = false
    running = true
    try {
      const ids = dirty === "all" ? [...source.catalog.idsOfType(type)] : [...dirty]
      if (dirty === "all") docs.clear()
      // A document that changes while it is read is dirty again, and read again for the next result.
      dirty = new Set()
      await forEachLimited(ids, READ_CONCURRENCY, reread)
      if (!live()) return
      const started = Date.now()
      listener(runQuery([...docs.values()], options))
      // What the listener set off counts too (React renders in a microtask after a store changes).
      await new Promise(resolve => setTimeout(resolve, 0))
      deliveredAt = Date.now()
      cost = deliveredAt - started
    } finally {
      running = false
      if (live() && (dirty === "all" || dirty.size > 0)) schedule()
    }
  }
  const schedule = () => {
    if (scheduled) return
    scheduled = true
    setTimeout(() => void refresh(), Math.max(0, deliveredAt + Math.max(UPDATE_INTERVAL_MS, cost * BUSY_FACTOR) - Date.now()))
  }
  const stop = source.watch(type, id => {
    if (dirty !== "all") dirty.add(id)
    if (!running) schedule()
  })
  schedule()
  return () => {
    active = false
    stop()
  }
}
