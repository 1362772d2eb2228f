/**
 * What the dashboard keeps of each document so a search, filter or sort of
 * 100,000 documents does not read 100,000 documents: each one's data (plain
 * values), its strings in lower case for text search, and its one-line
 * summary. An indexed document is good while the catalog's heads for it are
 * the heads it was read at; a request reads again only the documents that
 * changed or arrived since (so no event can be missed), and one that was
 * purged, quarantined or deleted drops out with its catalog entry.
 *
 * While the catalog has not changed, a request gets the rows the last one
 * got (the same array, so DocumentQuery can keep its sorted orders).
 *
 * The first request for a type that searches, filters or sorts by a field
 * reads all of its documents; a list in catalog order (by id or time) needs
 * only its page, and starts that full read in the background (`warm`). The index holds
 * at most `maxDocuments` documents over all types, dropping the least
 * recently asked-for types first; a type larger than that on its own is read
 * in full for each request.
 */
import { isVisible, type CatalogEntry, type Database } from "@cairn/core"
import { summarize } from "./summaries.js"

export interface IndexedDocument {
  /** The catalog heads the document was read at. */
  heads: string
  data: Record<string, unknown>
  /** Every string in the data, in lower case, one per line. */
  text: string
  summary: string
}

export interface IndexedRow {
  entry: CatalogEntry
  doc: IndexedDocument
}

/** Reads at once while bringing a type up to date: enough to keep the store busy, few enough not to hold thousands of documents together. */
const READ_CONCURRENCY = 16
/** Strings deeper than this are not searched (a document is small data, not a tree of trees). */
const MAX_TEXT_DEPTH = 8

/** A type's indexed documents, and the rows last answered with the catalog change they were up to date with. */
interface TypeIndex {
  docs: Map<string, IndexedDocument>
  rows?: { changeSeq: number; includeDeleted: boolean; rows: IndexedRow[] }
}

export class DocumentIndex {
  /** By type, least recently asked for first. */
  readonly #types = new Map<string, TypeIndex>()
  #turn: Promise<unknown> = Promise.resolve()
  readonly #warming = new Set<string>()
  /** The rows read so far of the type being brought up to date, and how many it has in all. */
  readonly #building = new Map<string, { rows: IndexedRow[]; of: number }>()
  /** Types found larger than the bound: reading them in the background would be for nothing. */
  readonly #oversized = new Set<string>()

  constructor(
    private readonly db: Database,
    readonly maxDocuments = 200_000,
  ) {}

  /** How many documents the index holds now. */
  get size(): number {
    let size = 0
    for (const index of this.#types.values()) size += index.docs.size
    return size
  }

  /** The documents of `type` the catalog shows (deleted ones too with `includeDeleted`), each with its indexed data, brought up to date. */
  rows(type: string, includeDeleted: boolean): Promise<IndexedRow[]> {
    // One refresh at a time: two requests at once would read the same changed documents twice.
    const run = this.#turn.then(() => this.#refresh(type, includeDeleted))
    this.#turn = run.catch(() => {})
    return run
  }

  /**
   * The rows of `type` if they are up to date within `waitMs`; otherwise those
   * read so far (`complete` false, with how many of how many), while the
   * reading goes on for the next request.
   */
  async rowsWithin(
    type: string,
    includeDeleted: boolean,
    waitMs: number,
  ): Promise<{ rows: IndexedRow[]; complete: true } | { rows: IndexedRow[]; complete: false; read: number; of: number }> {
    const full = this.rows(type, includeDeleted)
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<undefined>(resolve => (timer = setTimeout(() => resolve(undefined), waitMs)))
    const rows = await Promise.race([full, late]).finally(() => clearTimeout(timer))
    if (rows) return { rows, complete: true }
    full.catch(() => {})
    const building = this.#building.get(type)
    // Not started yet (another type's read is ahead of it): nothing read of all the type has.
    if (!building) return { rows: [], complete: false, read: 0, of: this.db.catalog.idsOfType(type).size }
    return { rows: [...building.rows], complete: false, read: building.rows.length, of: building.of }
  }

  /** A page of documents, in the order given: from the index where it holds them up to date, else read (and not kept). */
  async documents(entries: CatalogEntry[]): Promise<IndexedRow[]> {
    const rows: (IndexedRow | undefined)[] = []
    await inTurns(entries.length, async i => {
      const entry = entries[i]!
      const held = this.#types.get(entry.type)?.docs.get(entry.id)
      const doc = held?.heads === entry.heads.join() ? held : await this.#read(entry)
      rows[i] = doc && { entry, doc }
    })
    return rows.filter(row => row !== undefined)
  }

  /** Read a type's documents into the index in the background, unless it holds them or is reading them already. */
  warm(type: string): void {
    if (this.#types.has(type) || this.#warming.has(type) || this.#oversized.has(type)) return
    this.#warming.add(type)
    this.rows(type, false)
      .catch(() => {})
      .finally(() => this.#warming.delete(type))
  }

  async #refresh(type: string, includeDeleted: boolean): Promise<IndexedRow[]> {
    const { catalog } = this.db
    const held = this.#types.get(type)
    const changeSeq = catalog.changeSeq
    if (held?.rows && held.rows.changeSeq === changeSeq && held.rows.includeDeleted === includeDeleted) {
      this.#keep(type, held)
      return held.rows.rows
    }
    const index = held?.docs ?? new Map<string, IndexedDocument>()
    this.#types.delete(type)
    const ids = catalog.idsOfType(type)
    const rows: IndexedRow[] = []
    const stale: CatalogEntry[] = []
    for (const id of ids) {
      const entry = catalog.get(id)
      if (!isVisible(entry, { includeDeleted })) continue
      const known = index.get(id)
      if (known && known.heads === entry.heads.join()) rows.push({ entry, doc: known })
      else stale.push(entry)
    }
    this.#building.set(type, { rows, of: rows.length + stale.length })
    try {
      await inTurns(stale.length, async i => {
        const entry = stale[i]!
        const doc = await this.#read(entry)
        if (!doc) return
        index.set(entry.id, doc)
        rows.push({ entry, doc })
      })
    } finally {
      this.#building.delete(type)
    }
    for (const id of index.keys()) if (!ids.has(id)) index.delete(id)
    if (index.size <= this.maxDocuments) {
      this.#oversized.delete(type)
      this.#keep(type, { docs: index, rows: { changeSeq, includeDeleted, rows } })
    } else this.#oversized.add(type)
    return rows
  }

  async #read(entry: CatalogEntry): Promise<IndexedDocument | undefined> {
    try {
      const doc = await this.db.get(entry.id)
      const data = doc.data as Record<string, unknown>
      const strings: string[] = []
      collectStrings(data, strings, 0)
      return { heads: entry.heads.join(), data, text: strings.join("\n").toLowerCase(), summary: summarize(data) }
    } catch {
      // Purged or quarantined between the catalog and the read: it is not listed.
      return undefined
    }
  }

  /** Keep `index` as the most recently asked-for type, and drop the least recently asked-for past the bound. */
  #keep(type: string, index: TypeIndex): void {
    this.#types.delete(type)
    this.#types.set(type, index)
    let size = this.size
    for (const [other, held] of this.#types) {
      if (size <= this.maxDocuments || other === type) break
      this.#types.delete(other)
      size -= held.docs.size
    }
  }
}

/** Run `work(0 … count-1)`, READ_CONCURRENCY at a time. */
async function inTurns(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await work(next++)
  }
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, count) }, worker))
}

function collectStrings(value: unknown, out: string[], depth: number): void {
  if (typeof value === "string") out.push(value)
  else if (depth < MAX_TEXT_DEPTH && typeof value === "object" && value !== null)
    for (const item of Array.isArray(value) ? value : Object.values(value)) collectStrings(item, out, depth + 1)
}
