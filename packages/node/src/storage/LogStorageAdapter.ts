/**
 * automerge-repo storage for Node in one append-only log file per directory:
 * compact on disk, quick to open, and safe across crashes.
 *
 *   <directory>/storage.log              the log (see LogFile.ts, record.ts)
 *   <directory>/storage.log.compacting   a compaction in progress (deleted on open)
 *   <directory>/storage.log.index        the key index as of a clean close or a compaction (see savedIndex.ts)
 *
 * - A save appends a checksummed record; a remove appends a tombstone. An
 *   in-memory index (KeyIndex.ts) maps each live key to its record, built by
 *   reading the log front to back on open, or from the index saved beside
 *   it and the records after what that covers. Values stay on disk until loaded:
 *   automerge-repo keeps loaded documents in memory and the OS caches the
 *   file, so a value cache here would only hold the same bytes a third time.
 * - Group commit: saves and removes made while the disk is busy (or in the
 *   same turn of the event loop) go out in one write and one fdatasync, and a
 *   promise resolves only once its record is on stable storage (with the
 *   default `fsync: true`).
 * - A batch (`saveBatch`) goes out as one record with one checksum over all
 *   of its saves: after a crash they are all there or none is (see record.ts).
 * - Damage never stops an open: a record that fails its checksum is skipped
 *   and listed in `damaged`, and a torn tail left by a crash is cut off.
 * - Compaction rewrites the live records into a new file and renames it over
 *   the log once the dead bytes (overwritten, removed, damaged) outweigh the
 *   live ones, so the file stays under about twice the live data.
 *
 * Why one file rather than several segments: segments let a compaction skip
 * cold data, but then a tombstone may only be dropped once every older
 * segment holding its key is gone, which needs a manifest to survive crashes.
 * With one file the rename is the only commit point, and compacting only
 * when dead bytes exceed live bytes keeps the copying to at most one byte per
 * byte written. Writes wait while a compaction copies; reads do not.
 *
 * One process at a time: the Cairn peer locks the data directory.
 */
import { mkdir, rm } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import { copyLiveRecords } from "./copyLiveRecords.js"
import { StorageClosedError, StorageFailedError } from "./errors.js"
import { KeyIndex, type IndexEntry } from "./KeyIndex.js"
import { FILE_HEADER_BYTES, fsyncDirectory, LogFile } from "./LogFile.js"
import { encodeBatch, encodeKey, encodeRecord, intactRecord, keyId, readValue, RECORD_HEADER_BYTES, RecordKind } from "./record.js"
import { encodeSavedIndex, readSavedIndex, removeSavedIndex, writeSavedIndex } from "./savedIndex.js"
import { scanLog, type DamagedRecord } from "./scanLog.js"

export type { DamagedRecord } from "./scanLog.js"

const LOG_NAME = "storage.log"
const COMPACTING_NAME = "storage.log.compacting"
const INDEX_NAME = "storage.log.index"

export interface LogStorageOptions {
  /**
   * fdatasync each group of writes before their promises resolve (default
   * true). Without it an acknowledged save survives the process being killed
   * but not a power cut or an OS crash. Compaction always syncs: a renamed
   * log that is not on disk could replace a good one with nothing.
   */
  fsync?: boolean
  /** Compact only once at least this many bytes are dead (default 64 KiB), so a tiny store is not rewritten for every few changes. */
  compactMinDeadBytes?: number
  /** Called for each damaged record when it is found (on open, or later by a read), for example to log it. */
  onDamage?: (damage: DamagedRecord) => void
}

/** What the log holds, for monitoring and tests. */
export interface LogStorageStats {
  /** Size of the log file, in bytes. */
  readonly fileBytes: number
  /** Bytes of live records (header, key and value), including those waiting to be written. */
  readonly liveBytes: number
  /** Number of live keys. */
  readonly keys: number
  /** Compactions completed since open. */
  readonly compactions: number
  /** Why the last automatic compaction failed, if it did; it is retried once the log has grown. */
  readonly lastCompactionError: unknown
  /** How the open found the keys: from the saved index (then `scannedBytes` is the tail after it) or by scanning the whole log. */
  readonly openedFrom: "saved index" | "scan"
  /** Bytes of the log the open read record by record. */
  readonly scannedBytes: number
}

interface QueuedWrite {
  readonly record: Buffer
  /** The index entries a put (or a batch's puts) makes live, with where each one's record starts in `record`. */
  readonly entries: readonly { entry: IndexEntry; at: number }[]
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
}

export class LogStorageAdapter implements StorageAdapterInterface {
  readonly #fsync: boolean
  readonly #compactMinDeadBytes: number
  readonly #onDamage: ((damage: DamagedRecord) => void) | undefined
  readonly #index: KeyIndex
  readonly #damaged: DamagedRecord[]
  #file: LogFile
  #queue: QueuedWrite[] = []
  #compactWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = []
  #draining: Promise<void> | undefined
  #failure: StorageFailedError | undefined
  #closed = false
  #compactions = 0
  #lastCompactionError: unknown
  /** After a failed automatic compaction, the file size at which to try again (so a full disk is not retried on every write). */
  #retryCompactionAt = 0
  /** The log file holds damaged records (found on open or by a read), so no index is saved for it (see savedIndex.ts). */
  #fileDamaged: boolean
  readonly #opened: { from: "saved index" | "scan"; scannedBytes: number }

  private constructor(
    readonly directory: string,
    file: LogFile,
    index: KeyIndex,
    damaged: DamagedRecord[],
    opened: { from: "saved index" | "scan"; scannedBytes: number },
    options: LogStorageOptions,
  ) {
    this.#file = file
    this.#index = index
    this.#damaged = damaged
    this.#opened = opened
    // A torn tail is cut off on open: what is left is whole.
    this.#fileDamaged = damaged.some(damage => damage.reason !== "torn-tail")
    this.#fsync = options.fsync ?? true
    this.#compactMinDeadBytes = options.compactMinDeadBytes ?? 64 * 1024
    this.#onDamage = options.onDamage
  }

  /**
   * Open the store in `directory`, creating it if needed: read the log,
   * cut off a torn tail, and report damaged records (`damaged`, `onDamage`).
   * Throws StorageFormatError if the log there is not one this version reads.
   */
  static async open(directory: string, options: LogStorageOptions = {}): Promise<LogStorageAdapter> {
    const dir = resolve(directory)
    await makeDirectoryDurably(dir)
    // A compaction that a crash interrupted: the log it was replacing is still whole.
    await rm(join(dir, COMPACTING_NAME), { force: true })
    await rm(join(dir, `${INDEX_NAME}.writing`), { force: true })
    const file = await openOrCreateLog(dir)
    const index = new KeyIndex()
    try {
      // The saved index, when it holds, gives the keys up to where it was saved: only the records after are read.
      const saved = await readSavedIndex(join(dir, INDEX_NAME), file).catch(() => undefined)
      for (const entry of saved?.entries ?? []) index.set(newEntry(entry.id, entry.offset, entry.length, undefined))
      const from = saved?.length ?? FILE_HEADER_BYTES
      const { end, damaged } = await scanLog(
        file,
        record => {
          if (record.kind === RecordKind.Put) index.set(newEntry(record.id, record.offset, record.length, undefined))
          else index.delete(record.id)
        },
        from,
      )
      const opened = { from: saved ? ("saved index" as const) : ("scan" as const), scannedBytes: file.size - from }
      if (end < file.size) await file.truncate(end)
      for (const damage of damaged) options.onDamage?.(damage)
      return new LogStorageAdapter(dir, file, index, damaged, opened, options)
    } catch (error) {
      await file.closeWhenIdle()
      throw error
    }
  }

  /** Damaged records found so far (on open and by later reads), oldest first. They are skipped, never loaded. */
  get damaged(): readonly DamagedRecord[] {
    return [...this.#damaged]
  }

  /** Sizes and counters of the log. */
  stats(): LogStorageStats {
    return {
      fileBytes: this.#file.size,
      liveBytes: this.#index.liveBytes,
      keys: this.#index.size,
      compactions: this.#compactions,
      lastCompactionError: this.#lastCompactionError,
      openedFrom: this.#opened.from,
      scannedBytes: this.#opened.scannedBytes,
    }
  }

  /** The value saved under `key`, or undefined. A damaged record loads as undefined and is added to `damaged`. */
  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    this.#assertUsable()
    const entry = this.#index.get(keyId(key))
    return entry && this.#read(entry)
  }

  /** Save `data` under `key`; resolves once it is on disk (and, with `fsync`, on stable storage). Loads see it at once. */
  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    this.#assertUsable()
    if (!(data instanceof Uint8Array)) throw new TypeError(`storage values must be Uint8Array, got ${typeof data}`)
    const { id, bytes } = encodeKey(key)
    const record = encodeRecord(RecordKind.Put, bytes, data)
    const entry = newEntry(id, -1, record.length, record.subarray(RECORD_HEADER_BYTES + bytes.length))
    this.#index.set(entry)
    return this.#enqueue(record, [{ entry, at: 0 }])
  }

  /**
   * Save every chunk as one unit: after a crash, all of them are there or
   * none is. Resolves once they are on disk, as `save` does; loads see them
   * at once. A key given twice keeps its last value. Nothing is saved if
   * any key or value is invalid.
   */
  async saveBatch(chunks: readonly { key: StorageKey; data: Uint8Array }[]): Promise<void> {
    this.#assertUsable()
    const members = chunks.map(({ key, data }) => {
      if (!(data instanceof Uint8Array)) throw new TypeError(`storage values must be Uint8Array, got ${typeof data} for key ${keyId(key)}`)
      const { id, bytes } = encodeKey(key)
      return { id, keyLength: bytes.length, record: encodeRecord(RecordKind.Put, bytes, data) }
    })
    if (members.length === 0) return
    const { batch, starts } = encodeBatch(members.map(member => member.record))
    const entries = members.map(({ id, keyLength, record }, i) => {
      const value = RECORD_HEADER_BYTES + keyLength
      const entry = newEntry(id, -1, record.length, batch.subarray(starts[i]! + value, starts[i]! + record.length))
      this.#index.set(entry)
      return { entry, at: starts[i]! }
    })
    return this.#enqueue(batch, entries)
  }

  /** Remove `key`; resolves once the removal is durable. Removing a missing key does nothing. */
  async remove(key: StorageKey): Promise<void> {
    this.#assertUsable()
    const { id, bytes } = encodeKey(key)
    if (!this.#index.delete(id)) return
    return this.#enqueue(encodeRecord(RecordKind.Tombstone, bytes), [])
  }

  /**
   * Every key starting with all the parts of `keyPrefix`, with its value, in
   * the order the keys were last saved. `[docId]` matches `[docId, ...]` but
   * not `[docIdAndMore, ...]`. Damaged records are left out (see `damaged`).
   */
  async loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    this.#assertUsable()
    keyId(keyPrefix)
    const entries = this.#index.matching(keyPrefix)
    const values = await Promise.all(entries.map(entry => this.#read(entry)))
    const chunks: Chunk[] = []
    entries.forEach((entry, i) => {
      const data = values[i]
      if (data) chunks.push({ key: JSON.parse(entry.id), data })
    })
    return chunks
  }

  /** Remove every key starting with all the parts of `keyPrefix`; resolves once durable. */
  async removeRange(keyPrefix: StorageKey): Promise<void> {
    this.#assertUsable()
    keyId(keyPrefix)
    const removals = this.#index.matching(keyPrefix).map(entry => {
      this.#index.delete(entry.id)
      return this.#enqueue(encodeRecord(RecordKind.Tombstone, Buffer.from(entry.id, "utf8")), [])
    })
    await Promise.all(removals)
  }

  /** Rewrite the log with only its live records now, rather than when dead bytes outgrow live ones. */
  async compact(): Promise<void> {
    this.#assertUsable()
    const done = new Promise<void>((resolve, reject) => this.#compactWaiters.push({ resolve, reject }))
    this.#startDraining()
    return done
  }

  /**
   * Finish queued writes, save the key index beside the log (so the next open
   * need not scan it) and close the file. Later calls throw StorageClosedError.
   * Closing twice is harmless.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#draining
    // Best effort: without an index the next open scans the log, as after a crash.
    await this.#saveIndex().catch(() => undefined)
    await this.#file.closeWhenIdle()
  }

  /** Save the key index for the log as it is, when every record is written and the log holds no known damage. */
  async #saveIndex(): Promise<void> {
    if (this.#failure || this.#fileDamaged || this.#queue.length > 0 || this.#index.writtenLiveBytes !== this.#index.liveBytes) return
    await writeSavedIndex(join(this.directory, INDEX_NAME), await encodeSavedIndex(this.#file, this.#index.entries()))
  }

  #assertUsable(): void {
    if (this.#failure) throw this.#failure
    if (this.#closed) throw new StorageClosedError(this.directory)
  }

  /** Read an entry's value. Starts the read synchronously, so the (file, offset) pair cannot be split by a compaction. */
  async #read(entry: IndexEntry): Promise<Uint8Array | undefined> {
    if (entry.pending) return new Uint8Array(entry.pending)
    const file = this.#file
    const record = await file.read(entry.offset, entry.length)
    const header = intactRecord(record, 0, entry.id, entry.length)
    if (header) return readValue(record, 0, header)
    this.#reportReadDamage(entry, entry.offset)
    return undefined
  }

  #reportReadDamage(entry: IndexEntry, offset: number): void {
    if (!this.#index.isLive(entry)) return
    this.#fileDamaged = true
    this.#index.delete(entry.id)
    const damage: DamagedRecord = { offset, length: entry.length, reason: "checksum", key: JSON.parse(entry.id), foundWhen: "read" }
    this.#damaged.push(damage)
    this.#onDamage?.(damage)
  }

  #enqueue(record: Buffer, entries: QueuedWrite["entries"]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, entries, resolve, reject })
      this.#startDraining()
    })
  }

  #startDraining(): void {
    this.#draining ??= this.#drain()
  }

  /** The single writer: appends queued records in batches and runs compactions between them. Never rejects. */
  async #drain(): Promise<void> {
    // One turn of the event loop lets every save made in this turn join the first batch.
    await new Promise(resolve => setImmediate(resolve))
    while (!this.#failure) {
      if (this.#compactWaiters.length > 0) {
        await this.#compactNow()
      } else if (this.#queue.length > 0) {
        await this.#writeBatch()
        // Dead bytes come from writes, so this is the moment to check; the
        // writes queued meanwhile go out right after, before any second look.
        if (this.#shouldCompact()) await this.#compactNow()
      } else {
        break
      }
    }
    this.#draining = undefined
  }

  async #writeBatch(): Promise<void> {
    const batch = this.#queue
    this.#queue = []
    try {
      let offset = await this.#file.append(
        batch.map(write => write.record),
        this.#fsync,
      )
      for (const write of batch) {
        for (const { entry, at } of write.entries) this.#index.markWritten(entry, offset + at)
        offset += write.record.length
      }
    } catch (error) {
      this.#fail(error, batch)
      return
    }
    for (const write of batch) write.resolve()
  }

  #shouldCompact(): boolean {
    const live = this.#index.writtenLiveBytes
    const dead = this.#file.size - FILE_HEADER_BYTES - live
    return dead >= this.#compactMinDeadBytes && dead > live && this.#file.size >= this.#retryCompactionAt
  }

  async #compactNow(): Promise<void> {
    const waiters = this.#compactWaiters.splice(0)
    try {
      await this.#compact()
      this.#compactions++
      this.#lastCompactionError = undefined
      this.#retryCompactionAt = 0
      for (const waiter of waiters) waiter.resolve()
    } catch (error) {
      const failure = this.#failure ?? error
      this.#lastCompactionError = failure
      this.#retryCompactionAt = this.#file.size + this.#compactMinDeadBytes
      for (const waiter of waiters) waiter.reject(failure)
    }
  }

  /** Runs inside the writer, so the log does not grow while it is copied; loads go on reading the old file. */
  async #compact(): Promise<void> {
    const live = [...this.#index.entries()].filter(entry => entry.offset >= 0).sort((a, b) => a.offset - b.offset)
    const logPath = join(this.directory, LOG_NAME)
    const temporaryPath = join(this.directory, COMPACTING_NAME)
    const copy = await copyLiveRecords(this.#file, live, temporaryPath)
    try {
      await copy.file.sync()
      // The index of the old log goes first: it must never stand beside the new one (it would fail its checks, but
      // only by its checksum).
      await removeSavedIndex(join(this.directory, INDEX_NAME))
      await copy.file.renameTo(logPath)
    } catch (error) {
      // The old log is untouched and still in place.
      await copy.file.closeWhenIdle()
      await rm(temporaryPath, { force: true })
      throw error
    }
    // From the rename on, the copy is the log: switch to it in one synchronous step.
    const old = this.#file
    for (const [entry, offset] of copy.offsets) entry.offset = offset
    this.#file = copy.file
    for (const entry of copy.damaged) this.#reportReadDamage(entry, entry.offset)
    // The copy left the damaged records behind.
    this.#fileDamaged = false
    // Nothing to do if closing the replaced file fails: it is already unlinked.
    old.closeWhenIdle().catch(() => undefined)
    try {
      await fsyncDirectory(this.directory)
    } catch (error) {
      // Unknown whether the rename is durable: refuse writes rather than risk appending to a log that a crash would undo.
      this.#fail(error, [])
      throw error
    }
    // With no write waiting, the index of the new log (else the one saved at close).
    await this.#saveIndex().catch(() => undefined)
  }

  #fail(error: unknown, batch: QueuedWrite[]): void {
    this.#failure = new StorageFailedError(this.directory, error)
    for (const write of [...batch, ...this.#queue.splice(0)]) write.reject(this.#failure)
    for (const waiter of this.#compactWaiters.splice(0)) waiter.reject(this.#failure)
  }
}

function newEntry(id: string, offset: number, length: number, pending: Uint8Array | undefined): IndexEntry {
  return { id, offset, length, pending, previous: undefined, next: undefined }
}

async function openOrCreateLog(directory: string): Promise<LogFile> {
  const path = join(directory, LOG_NAME)
  try {
    return await LogFile.open(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
  }
  const file = await LogFile.createTemporary(join(directory, COMPACTING_NAME))
  await file.sync()
  await file.renameTo(path)
  await fsyncDirectory(directory)
  return file
}

/** mkdir -p, then fsync the parent of every directory it created, so the directories survive a crash too. */
async function makeDirectoryDurably(directory: string): Promise<void> {
  const created = await mkdir(directory, { recursive: true })
  if (created === undefined) return
  const first = resolve(created)
  for (let dir = directory; ; dir = dirname(dir)) {
    await fsyncDirectory(dirname(dir))
    if (dir === first || dir === dirname(dir)) return
  }
}
