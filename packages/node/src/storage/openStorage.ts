/**
 * The storage a Node peer uses for its documents, catalog and checkpoints:
 * Cairn's log (LogStorageAdapter.ts) in `<dir>/store`.
 *
 * Why not automerge-repo's nodefs adapter, which stores one file per chunk:
 * measured here (`node packages/node/bench/storage.mjs`), 1,000 small
 * documents took about 42 times their saved bytes on disk with nodefs (a
 * 4 KiB block per tiny file, and a directory per document) against 1.4 times
 * in the log, and a fresh process listing a store of 10,000 documents walked
 * tens of thousands of files where the log reads one. nodefs also never
 * fsyncs, so an acknowledged write could be lost to a power cut.
 *
 * Two logs, not one: the catalog and sync checkpoints (`cairn-catalog`,
 * `cairn-sync`) live in `<dir>/store/catalog/`, the documents in
 * `<dir>/store/`. Each then checks the other: if the documents' log is
 * damaged, the intact catalog still lists every document and its heads, so
 * the damaged documents are found (and fetched again from peers); if the
 * catalog's log is damaged, it is rebuilt from the intact documents. In one
 * log, a cut-off tail would take documents and the catalog's record of them
 * together, and nothing would be left to say what was lost. It costs no extra
 * fsync: a group commit writes documents first and the catalog after anyway.
 *
 * A batch (`saveBatch`, a transaction's chunks and catalog entries) is one
 * unit in each log, but spans both: its catalog part goes to the catalog's
 * log first, with a record naming the batch as pending, then its documents'
 * part to the documents' log with a record saying the batch is done. Opening
 * rolls back the catalog part of a pending batch that is not done (a crash
 * came between the two writes, or tore the second), so a transaction's
 * entries count only with its documents, and always with them. Only the
 * batch's own record names are written twice, not its entries.
 *
 * A store written by an earlier version in nodefs's layout is moved into the
 * logs on open (see `migrateFromNodeFS`).
 */
import { mkdir, readdir, readFile, rename, rm, unlink } from "node:fs/promises"
import { join } from "node:path"
import type { Chunk, StorageKey } from "@automerge/automerge-repo"
import type { AtomicStorage, BatchChunk } from "@cairn/core"
import { writeAtomic } from "../DataDirectory.js"
import { LogStorageAdapter, type DamagedRecord } from "./LogStorageAdapter.js"

export type { DamagedRecord } from "./LogStorageAdapter.js"

export interface PeerStorage extends AtomicStorage {
  close(): Promise<void>
  /** Records found damaged and skipped (on open, or by later reads), in either log. */
  readonly damaged: readonly DamagedRecord[]
  /** Damage found on this open or an earlier one that has not been dealt with yet (`damageHandled`). */
  readonly damage: StorageDamage
  /** The database has dealt with `damage` (rebuilt its catalog, checked the documents): forget it. */
  damageHandled(): Promise<void>
  /** Rewrite both logs with their live records only: dead and damaged ones are dropped for good. */
  compact(): Promise<void>
  /** Every record carries a checksum: a damaged one is skipped and reported (`damage`), never read back (see core's hasImplausibleEntries). */
  readonly checksummed: true
}

/**
 * What the logs found damaged, kept in `<dir>/store/damage.json` until the
 * database has dealt with it: a log skips a damaged record (or cuts a torn
 * tail) on every open, and a compaction drops it for good, so without this
 * record a crash between finding damage and repairing it would forget it.
 */
export interface StorageDamage {
  /** The catalog's log had damaged records: the catalog must be rebuilt from the documents. */
  catalog: boolean
  /** Documents with a damaged record (its key was readable). */
  documents: string[]
  /** The documents' log had a damaged record whose key could not be read: every document must be checked. */
  unknownDocuments: boolean
}

export interface OpenStorageOptions {
  /** Told of every damaged record when it is found. */
  onDamage?: (damage: DamagedRecord) => void
}

/** The log's own files; anything else in the directory is an older nodefs store. */
const LOG_FILES = new Set(["storage.log", "storage.log.compacting", "storage.log.index", "storage.log.index.writing"])
const CATALOG_DIR = "catalog"
const MIGRATING = ".nodefs-migrating"
const DAMAGE_FILE = "damage.json"
/** Key prefixes kept in the catalog's log. */
const CATALOG_KEYS = new Set(["cairn-catalog", "cairn-sync"])
/** In the catalog's log, naming a batch whose documents' part may not be on disk yet: its value lists the batch's catalog keys. */
const PENDING = ["cairn-catalog", "batch"]
const pendingKey = (batch: string) => [...PENDING, batch]
/** In the documents' log: the batch's documents' part is on disk (`[DONE, batch]`). */
const DONE = "cairn-batch"

export async function openStorage(path: string, options: OpenStorageOptions = {}): Promise<PeerStorage> {
  const documents = await LogStorageAdapter.open(path, options)
  let storage: SplitStorage | undefined
  try {
    const catalog = await LogStorageAdapter.open(join(path, CATALOG_DIR), options)
    storage = new SplitStorage(documents, catalog, await recordDamage(join(path, DAMAGE_FILE), documents.damaged, catalog.damaged))
    await storage.finishBatches()
    await migrateFromNodeFS(path, storage)
    return storage
  } catch (error) {
    await (storage ?? documents).close()
    throw error
  }
}

/** The documents' log and the catalog's log behind one adapter, routed by the key's first part. */
class SplitStorage implements PeerStorage {
  readonly checksummed = true

  /** Pending and done records being removed (see `saveBatch`): close waits for them. */
  readonly #settling = new Set<Promise<void>>()
  #batches = 0

  constructor(
    private readonly documents: LogStorageAdapter,
    private readonly catalog: LogStorageAdapter,
    readonly damage: StorageDamage,
  ) {}

  async compact(): Promise<void> {
    await this.documents.compact()
    await this.catalog.compact()
  }

  async damageHandled(): Promise<void> {
    await unlink(join(this.documents.directory, DAMAGE_FILE)).catch(() => {})
    Object.assign(this.damage, { catalog: false, documents: [], unknownDocuments: false })
  }

  get damaged(): readonly DamagedRecord[] {
    return [...this.documents.damaged, ...this.catalog.damaged]
  }

  #for(key: StorageKey): LogStorageAdapter {
    return CATALOG_KEYS.has(key[0] ?? "") ? this.catalog : this.documents
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#for(key).load(key)
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    return this.#for(key).save(key, data)
  }

  remove(key: StorageKey): Promise<void> {
    return this.#for(key).remove(key)
  }

  async saveBatch(chunks: readonly BatchChunk[]): Promise<void> {
    const toCatalog = chunks.filter(chunk => CATALOG_KEYS.has(chunk.key[0] ?? ""))
    if (toCatalog.length === 0) return this.documents.saveBatch(chunks)
    if (toCatalog.length === chunks.length) return this.catalog.saveBatch(chunks)
    // A rollback removes the catalog part, so it may only add keys: an earlier value would be lost with it.
    for (const { key } of toCatalog)
      if ((await this.catalog.load(key)) !== undefined)
        throw new Error(`a batch with documents may only add new keys to the catalog's log; ${JSON.stringify(key)} exists`)
    const batch = `${Date.now().toString(36)}-${process.pid.toString(36)}-${(this.#batches++).toString(36)}`
    const keys = new TextEncoder().encode(JSON.stringify(toCatalog.map(chunk => chunk.key)))
    await this.catalog.saveBatch([...toCatalog, { key: pendingKey(batch), data: keys }])
    await this.documents.saveBatch([...chunks.filter(chunk => !toCatalog.includes(chunk)), { key: [DONE, batch], data: new Uint8Array(0) }])
    this.#settle(batch)
  }

  /** On open: roll back the catalog part of every batch whose documents' part never landed, and forget the finished ones. */
  async finishBatches(): Promise<void> {
    const pending = new Set<string>()
    for (const { key, data } of await this.catalog.loadRange(PENDING)) {
      const batch = key[2]
      if (batch === undefined || !data) continue
      pending.add(batch)
      if ((await this.documents.load([DONE, batch])) === undefined) {
        const keys = JSON.parse(new TextDecoder().decode(data)) as StorageKey[]
        // Each removal is on disk before the pending record goes, so a crash meanwhile rolls back again.
        await Promise.all(keys.map(part => this.catalog.remove(part)))
        await this.catalog.remove(key)
      } else {
        this.#settle(batch)
      }
    }
    // A done record whose pending record was already removed: its batch is finished.
    for (const { key } of await this.documents.loadRange([DONE])) if (key[1] !== undefined && !pending.has(key[1])) this.#settle(key[1])
    await Promise.all(this.#settling)
  }

  /**
   * Forget a finished batch: its pending record, then its done record. Nobody
   * waits for this, and the order is what matters: a pending record without
   * its done record would roll the batch back on the next open.
   */
  #settle(batch: string): void {
    const settling = this.catalog
      .remove(pendingKey(batch))
      .then(() => this.documents.remove([DONE, batch]))
      // A failed removal leaves both records, which mean the same on the next open; a failing disk is reported by the next write.
      .catch(() => {})
      .finally(() => this.#settling.delete(settling))
    this.#settling.add(settling)
  }

  async loadRange(prefix: StorageKey): Promise<Chunk[]> {
    if (prefix.length > 0) return this.#for(prefix).loadRange(prefix)
    return [...(await this.documents.loadRange(prefix)), ...(await this.catalog.loadRange(prefix))]
  }

  async removeRange(prefix: StorageKey): Promise<void> {
    if (prefix.length > 0) return this.#for(prefix).removeRange(prefix)
    await Promise.all([this.documents.removeRange(prefix), this.catalog.removeRange(prefix)])
  }

  async close(): Promise<void> {
    await Promise.all(this.#settling)
    await Promise.allSettled([this.documents.close(), this.catalog.close()])
  }
}

/** Merge what the logs found on this open into the damage record on disk (written only when there is something new). */
async function recordDamage(
  path: string,
  inDocuments: readonly DamagedRecord[],
  inCatalog: readonly DamagedRecord[],
): Promise<StorageDamage> {
  const damage: StorageDamage = { catalog: false, documents: [], unknownDocuments: false }
  try {
    const saved = JSON.parse(await readFile(path, "utf8")) as Partial<StorageDamage>
    damage.catalog = saved.catalog === true
    damage.unknownDocuments = saved.unknownDocuments === true
    damage.documents = Array.isArray(saved.documents) ? saved.documents.filter((id): id is string => typeof id === "string") : []
  } catch (error) {
    // An unreadable record of damage is damage of its own: check everything.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") Object.assign(damage, { catalog: true, unknownDocuments: true })
  }
  const before = JSON.stringify(damage)
  if (inCatalog.length > 0) damage.catalog = true
  const ids = new Set(damage.documents)
  for (const record of inDocuments) {
    const key = record.key
    if (key && (key[1] === "snapshot" || key[1] === "incremental") && key[0]) ids.add(key[0])
    // A damaged sync state or adapter id is harmless (they are written again); anything unreadable may have been a document.
    else if (!key || key.length < 2) damage.unknownDocuments = true
  }
  damage.documents = [...ids]
  if (JSON.stringify(damage) !== before) await writeAtomic(path, JSON.stringify(damage) + "\n")
  return damage
}

/**
 * Move a store in nodefs's layout (one file per chunk under two-letter
 * directories) into the log. The old files are first moved aside into
 * `.nodefs-migrating`, every chunk is then saved in the log (fsynced), and
 * only then are the old files deleted; a crash at any point leaves them to be
 * copied again on the next open (saving the same key twice is harmless).
 */
async function migrateFromNodeFS(path: string, storage: PeerStorage): Promise<void> {
  const aside = join(path, MIGRATING)
  const legacy = (await readdir(path)).filter(name => !LOG_FILES.has(name) && ![MIGRATING, CATALOG_DIR, DAMAGE_FILE].includes(name))
  if (legacy.length > 0) await mkdir(aside, { recursive: true })
  for (const name of legacy) await rename(join(path, name), join(aside, name))
  const entries = await readdir(aside).catch(() => [])
  if (entries.length === 0) {
    await rm(aside, { recursive: true, force: true })
    return
  }
  const chunks = await loadAllNodeFS(aside)
  await Promise.all(chunks.filter(chunk => chunk.data).map(chunk => storage.save(chunk.key, chunk.data!)))
  await rm(aside, { recursive: true, force: true })
}

/**
 * Every chunk of a store in nodefs's layout. nodefs (and the glob and rimraf
 * it brings, about 60 ms of module loading) is imported only here, by the
 * rare open that migrates, not by every open. nodefs maps the key [""] to its
 * base directory and turns every file under it back into its key: 2.5.6
 * throws a TypeError on the empty prefix.
 */
async function loadAllNodeFS(dir: string): Promise<Chunk[]> {
  const { NodeFSStorageAdapter } = await import("@automerge/automerge-repo-storage-nodefs")
  return new NodeFSStorageAdapter(dir).loadRange([""])
}
