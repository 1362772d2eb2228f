/**
 * The catalog: an index of every document this peer holds (id → type,
 * times, heads), so listing a type, querying it and deciding what to sync
 * never load documents of other types, and opening a database loads none.
 *
 * It persists through the same storage adapter as the documents, as a
 * snapshot plus a short log of batched updates (one record per flush, not
 * per change), compacted into a new snapshot when the log grows. If it is
 * missing or damaged, the database rebuilds it from the documents.
 */
import type { StorageAdapterInterface } from "@automerge/automerge-repo"
import type { BatchChunk } from "../storage/AtomicStorage.js"
import { isSequencedStorage, type CommittedRow, type SequencedStorage } from "../storage/SequencedStorage.js"
import type { CatalogEntry } from "./CatalogEntry.js"
import { decodeLog, decodeSnapshot, encodeLog, encodeSnapshot, FORMAT, type LogRecord, type SnapshotRecord } from "./catalogRecords.js"
import { decodeEntryRow, encodeEntryRow, ENTRY, sameEntry } from "./sharedRows.js"
import { unionVouches } from "../identity/vouch.js"

export type { CatalogEntry }

/**
 * Whether a document is one the app sees and peers are served: held here
 * (not purged), not quarantined, and, unless `includeDeleted`, not deleted.
 */
export function isVisible(entry: CatalogEntry | undefined, options: { includeDeleted?: boolean } = {}): entry is CatalogEntry {
  return !!entry && !entry.purged && !entry.quarantined && (options.includeDeleted === true || entry.deletedAt === null)
}

const PREFIX = "cairn-catalog"
const SNAPSHOT_KEY = [PREFIX, "snapshot"]
/**
 * Compact when the log has this many records (keeps opening fast without rewriting the snapshot on every flush),
 * and holds at least a quarter of the snapshot's bytes: a catalog of 100,000 entries is an 8 MB snapshot, and
 * rewriting it every 32 flushes of an initial sync cost more than the sync.
 */
const MAX_LOG_RECORDS = 32

/**
 * The entries dirty at one moment, to be written by a later `flush`: the
 * database captures them before it saves the documents they describe, so
 * an entry changed while those saves run (its document's change may not be
 * on disk yet) waits for the next flush, and a flush never waits for the
 * writes that keep coming.
 */
export interface CatalogUpdates {
  /** The change sequence number when they were captured. */
  readonly upTo: number
  readonly entries: ReadonlyMap<string, CatalogEntry>
}

export class Catalog {
  readonly #entries = new Map<string, CatalogEntry>()
  readonly #byType = new Map<string, Set<string>>()
  readonly #dirty = new Set<string>()
  /**
   * For each dirty entry, the version on disk (null: none), which a
   * compaction writes when the dirty version is not being written: the
   * snapshot must not hold an entry before its document's change is saved.
   */
  readonly #onDisk = new Map<string, CatalogEntry | null>()
  #seq = 0
  #logRecords = 0
  #logBytes = 0
  #snapshotBytes = 0
  #writing: Promise<void> = Promise.resolve()
  #changeSeq = 0
  #durableSeq = 0
  #epoch = randomEpoch()
  /** Set on a storage shared by several processes: entries are rows numbered by the store (see sharedRows.ts). */
  readonly #shared: SequencedStorage | undefined

  private constructor(private readonly storage: StorageAdapterInterface | undefined) {
    this.#shared = isSequencedStorage(storage) ? storage : undefined
  }

  /**
   * Load the catalog from storage. `damaged` is true when a record could not
   * be read (the caller should rebuild); `found` is false when none exists.
   */
  static async load(storage: StorageAdapterInterface | undefined): Promise<{ catalog: Catalog; found: boolean; damaged: boolean }> {
    const catalog = new Catalog(storage)
    if (!storage) return { catalog, found: false, damaged: false }
    if (catalog.#shared) return catalog.#loadShared(catalog.#shared)
    const chunks = await storage.loadRange([PREFIX])
    let snapshot: SnapshotRecord | undefined
    const logs: LogRecord[] = []
    let damaged = false
    for (const chunk of chunks) {
      if (!chunk.data) continue
      try {
        if (chunk.key[1] === "snapshot") {
          snapshot = decodeSnapshot(chunk.data)
          if (typeof snapshot.epoch === "string") catalog.#epoch = snapshot.epoch
          catalog.#snapshotBytes = chunk.data.byteLength
        } else if (chunk.key[1] === "log") {
          logs.push(decodeLog(chunk.data))
          catalog.#logBytes += chunk.data.byteLength
        }
      } catch {
        damaged = true
      }
    }
    const found = snapshot !== undefined || logs.length > 0
    const base = snapshot?.seq ?? 0
    for (const entry of snapshot?.entries ?? []) catalog.#put(entry)
    logs.sort((a, b) => a.seq - b.seq)
    for (const log of logs) {
      if (log.seq <= base) continue
      for (const entry of log.entries) catalog.#put(entry)
      catalog.#logRecords++
    }
    catalog.#seq = Math.max(base, logs.at(-1)?.seq ?? 0)
    for (const entry of catalog.#entries.values()) {
      if (!isEntry(entry)) damaged = true
      catalog.#changeSeq = Math.max(catalog.#changeSeq, entry.seq ?? 0)
    }
    catalog.#durableSeq = catalog.#changeSeq
    return { catalog, found, damaged }
  }

  /**
   * The entries of a shared storage, numbered by its commits. The store's
   * sequence is read first: a row committed after it is read again by the
   * follower, which finds it the same.
   */
  async #loadShared(shared: SequencedStorage): Promise<{ catalog: Catalog; found: boolean; damaged: boolean }> {
    const { epoch, seq } = await shared.sequence()
    this.#epoch = epoch
    let damaged = false
    for (const row of await shared.loadCommitted([PREFIX, ENTRY])) {
      try {
        const entry = decodeEntryRow(row.data!, row.seq)
        if (!isEntry(entry)) throw new Error("bad entry")
        this.#put(entry)
      } catch {
        damaged = true
      }
    }
    this.#changeSeq = this.#durableSeq = seq
    return { catalog: this, found: this.#entries.size > 0, damaged }
  }

  /**
   * A catalog row another process committed (or this one, read back): take
   * it, unless this process has changed the entry since (its own version is
   * written next, and numbered then). `concurrent`: the row replaced
   * another process's version, which its writer may not have seen, so its
   * heads may lack a change the store holds; the caller lets the document
   * decide. On any other storage, never called.
   */
  adopt(row: CommittedRow): { entry: CatalogEntry; taken: boolean; concurrent: boolean } {
    const entry = decodeEntryRow(row.data!, row.seq)
    const current = this.#entries.get(entry.id)
    const concurrent = row.prev > 0
    // Both processes' vouches for the document's changes: each may have checked some the other has not seen.
    const vouches = unionVouches(current?.vouches, entry.vouches)
    if (current && sameEntry(current, entry)) {
      // Ours, read back (perhaps before its write has returned), or the same listing: it takes the store's number.
      current.seq = row.seq
      if (vouches) current.vouches = vouches
      return { entry: current, taken: true, concurrent }
    }
    if (vouches) entry.vouches = vouches
    // Ours is newer (dirty), or ours was written after this row and comes back with its own number: keep ours.
    const mineLater = current !== undefined && current.seq === undefined && row.own && !sameEntry(current, entry)
    if (this.#dirty.has(entry.id) || mineLater) {
      if (vouches) current!.vouches = vouches
      if (this.#dirty.has(entry.id)) this.#onDisk.set(entry.id, entry)
      return { entry, taken: false, concurrent }
    }
    this.#put(entry)
    return { entry, taken: true, concurrent }
  }

  /** Resolves once this process's commits so far are applied here (on a shared storage; see SequencedStorage.applied). */
  async settled(): Promise<void> {
    await this.#shared?.applied()
  }

  /** On a shared storage: every commit up to `seq` is applied here, so it may be promised to peers (see durableSeq). */
  appliedUpTo(seq: number): void {
    this.#durableSeq = Math.max(this.#durableSeq, seq)
    this.#changeSeq = Math.max(this.#changeSeq, seq)
  }

  /** An empty catalog on the same storage, to be filled by a rebuild and then saved whole. */
  static empty(storage: StorageAdapterInterface | undefined, previous?: Catalog): Catalog {
    const catalog = new Catalog(storage)
    // On a shared storage the epoch and the numbers are the store's, for every process: a rebuild keeps them, and
    // its entries, written as new rows, are numbered above every checkpoint.
    if (catalog.#shared && previous) {
      catalog.#epoch = previous.#epoch
      catalog.#changeSeq = catalog.#durableSeq = previous.#durableSeq
    }
    return catalog
  }

  /**
   * Identifies this catalog's numbering of changes. A rebuilt catalog gets a
   * new epoch, so peers' checkpoints of the old one are not trusted.
   */
  get epoch(): string {
    return this.#epoch
  }

  /** The sequence number of the latest change. */
  get changeSeq(): number {
    return this.#changeSeq
  }

  /**
   * The sequence number up to which every change is on disk. A peer's
   * checkpoint of us must not pass it: after a crash, numbers above it are
   * given again to other changes, which that peer would then skip.
   */
  get durableSeq(): number {
    return this.storage ? this.#durableSeq : this.#changeSeq
  }

  /**
   * Entries changed after `seq` (all of them for 0), in no particular order.
   * On a shared storage, also every entry not yet numbered by the store
   * (changed here, not yet read back): it is above any checkpoint.
   */
  *changedSince(seq: number): IterableIterator<CatalogEntry> {
    const unnumbered = this.#shared ? Number.POSITIVE_INFINITY : 0
    for (const entry of this.#entries.values()) if ((entry.seq ?? unnumbered) > seq) yield entry
  }

  get size(): number {
    return this.#entries.size
  }

  get(id: string): CatalogEntry | undefined {
    return this.#entries.get(id)
  }

  has(id: string): boolean {
    return this.#entries.has(id)
  }

  /** Ids of one type (including deleted, purged and quarantined entries; filter as needed). */
  idsOfType(type: string): ReadonlySet<string> {
    return this.#byType.get(type) ?? new Set()
  }

  /** Every type with at least one entry. */
  types(): string[] {
    return [...this.#byType.keys()].filter(type => this.#byType.get(type)!.size > 0)
  }

  entries(): IterableIterator<CatalogEntry> {
    return this.#entries.values()
  }

  /** Record an entry (new or changed); it is written on the next `flush`. */
  set(entry: CatalogEntry): void {
    if (!this.#dirty.has(entry.id)) this.#onDisk.set(entry.id, this.#entries.get(entry.id) ?? null)
    // On a shared storage the store numbers it, in commit order, when the follower reads it back.
    if (this.#shared) delete entry.seq
    else entry.seq = ++this.#changeSeq
    this.#put(entry)
    this.#dirty.add(entry.id)
  }

  /**
   * Replace an entry with one that differs only in what is not offered to peers (its vouches): written like any
   * change, but it keeps its number, so no peer is told to pull for it and none finds its checkpoint behind. (A new
   * number with no one told left a peer that connected later waiting for a pull that never came.)
   */
  annotate(entry: CatalogEntry): void {
    const current = this.#entries.get(entry.id)
    if (!current) return
    if (!this.#dirty.has(entry.id)) this.#onDisk.set(entry.id, current)
    if (current.seq === undefined) delete entry.seq
    else entry.seq = current.seq
    this.#put(entry)
    this.#dirty.add(entry.id)
  }

  /** The entries dirty now, for a later `flush(updates)` (see CatalogUpdates). */
  capture(): CatalogUpdates {
    return { upTo: this.#changeSeq, entries: new Map([...this.#dirty].map(id => [id, this.#entries.get(id)!])) }
  }

  /**
   * Write updates as one log record, compacting when the log has grown:
   * those captured earlier, or every entry dirty when the write starts.
   */
  flush(updates?: CatalogUpdates): Promise<void> {
    // A failed write (a full disk) rejects its own callers only: the next flush starts afresh and writes its entries again.
    this.#writing = this.#writing.catch(() => {}).then(() => this.#flushNow(updates ?? this.capture()))
    return this.#writing
  }

  /**
   * Write updates as one log record through `write`, which saves it in the
   * same atomic batch as the documents' chunks (see GroupWriter.ts); `write`
   * gets no record when there is nothing to write. A compaction the log has
   * grown into runs after, without holding up the caller: it writes only
   * entries already on disk.
   */
  flushWith(updates: CatalogUpdates, write: (records: BatchChunk[]) => Promise<void>): Promise<void> {
    const done = this.#writing.catch(() => {}).then(() => this.#flushThrough(updates, write))
    // A failed compaction is tried again after the next flush (the log is still outgrown), and reported by none.
    this.#writing = done
      .then(() => (this.#logOutgrown() ? this.#compactNow({ upTo: this.#durableSeq, entries: new Map() }) : undefined))
      .catch(() => {})
    return done
  }

  /** Write the whole catalog as a new snapshot and drop the log. */
  compact(): Promise<void> {
    this.#writing = this.#writing.catch(() => {}).then(() => this.#compactNow(this.capture()))
    return this.#writing
  }

  async #flushNow(updates: CatalogUpdates): Promise<void> {
    if (!this.storage) return
    if (updates.entries.size === 0) {
      this.#durableSeq = Math.max(this.#durableSeq, updates.upTo)
      return
    }
    if (this.#logOutgrown()) return this.#compactNow(updates)
    await this.#flushThrough(updates, async records =>
      this.#shared ? this.#shared.saveBatch(records) : this.storage!.save(records[0]!.key, records[0]!.data),
    )
  }

  async #flushThrough(updates: CatalogUpdates, write: (records: BatchChunk[]) => Promise<void>): Promise<void> {
    if (updates.entries.size === 0) {
      await write([])
      if (!this.#shared) this.#durableSeq = Math.max(this.#durableSeq, updates.upTo)
      return
    }
    if (this.#shared) {
      const entries = [...updates.entries.values()]
      await write(entries.map(entry => ({ key: [PREFIX, ENTRY, entry.id], data: encodeEntryRow(entry) })))
      this.#written(updates)
      return
    }
    const seq = ++this.#seq
    const bytes = encodeLog({ seq, entries: [...updates.entries.values()] })
    await write([{ key: [PREFIX, "log", String(seq).padStart(12, "0")], data: bytes }])
    this.#logRecords++
    this.#logBytes += bytes.byteLength
    this.#written(updates)
  }

  #logOutgrown(): boolean {
    if (this.#shared) return false
    return (
      (this.#logRecords >= MAX_LOG_RECORDS && this.#logBytes * 4 > this.#snapshotBytes) ||
      (this.#logBytes > 64 * 1024 && this.#logBytes > this.#snapshotBytes)
    )
  }

  async #compactNow(updates: CatalogUpdates): Promise<void> {
    if (!this.storage) return
    // Rows need no compaction: the whole catalog (a rebuild's) is its dirty entries, written as rows.
    if (this.#shared) return this.#flushNow(updates)
    const seq = ++this.#seq
    const entries: CatalogEntry[] = []
    for (const entry of this.#entries.values()) {
      const version = !this.#dirty.has(entry.id) ? entry : (updates.entries.get(entry.id) ?? this.#onDisk.get(entry.id))
      if (version) entries.push(version)
    }
    const bytes = encodeSnapshot({ format: FORMAT, epoch: this.#epoch, seq, entries })
    // The new snapshot is written before the log is removed, so a crash in between leaves a readable catalog.
    await this.storage.save(SNAPSHOT_KEY, bytes)
    await this.storage.removeRange([PREFIX, "log"])
    this.#snapshotBytes = bytes.byteLength
    this.#logRecords = 0
    this.#logBytes = 0
    this.#written(updates)
  }

  /** `updates` are on disk: entries not changed since are clean; the others keep the written version as the one on disk. */
  #written(updates: CatalogUpdates): void {
    for (const [id, entry] of updates.entries) {
      if (this.#entries.get(id) === entry) {
        this.#dirty.delete(id)
        this.#onDisk.delete(id)
      } else if (this.#dirty.has(id)) {
        this.#onDisk.set(id, entry)
      }
    }
    // On a shared storage only the follower moves it: a commit of another process may come before ours.
    if (!this.#shared) this.#durableSeq = Math.max(this.#durableSeq, updates.upTo)
  }

  #put(entry: CatalogEntry): void {
    const previous = this.#entries.get(entry.id)
    if (previous && previous.type !== entry.type) this.#byType.get(previous.type)?.delete(entry.id)
    this.#entries.set(entry.id, entry)
    let ids = this.#byType.get(entry.type)
    if (!ids) this.#byType.set(entry.type, (ids = new Set()))
    ids.add(entry.id)
  }
}

function randomEpoch(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), b => b.toString(16).padStart(2, "0")).join("")
}

function isEntry(entry: unknown): entry is CatalogEntry {
  const e = entry as CatalogEntry
  return typeof e === "object" && e !== null && typeof e.id === "string" && typeof e.type === "string" && Array.isArray(e.heads)
}
