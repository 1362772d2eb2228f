/**
 * The documents, catalog and checkpoints of a relay in PostgreSQL: a
 * PeerStorage (automerge-repo's key-value storage plus atomic batches) over
 * one table, `<schema>.chunks (key text[], data bytea)`.
 *
 * A prefix matches whole key parts (`key[1:n] = prefix`), so `[doc]` finds
 * `[doc, "snapshot", h]` but `[a, b]` never finds `[a, bc]`: the trap
 * automerge-repo's interface warns of. A batch is one SQL transaction, so a
 * transaction's chunks and catalog entries are all stored or none, with no
 * commit record of our own (the log storage needs one; PostgreSQL's WAL is
 * that record).
 *
 * Writes of one process are applied in the order they were called (one queue,
 * as automerge-repo expects of a storage: the last save of a key wins), while
 * reads go to the pool in parallel. Writes of other processes are not ordered
 * with ours, which is safe for automerge's chunks: their keys name their
 * content (a hash), and a compaction removes only the chunks it loaded.
 */
import type { Chunk, StorageKey } from "@automerge/automerge-repo"
import type { BatchChunk } from "@cairn/core"
import type { PeerStorage, StorageDamage } from "../openStorage.js"
import type { DamagedRecord } from "../LogStorageAdapter.js"
import { PgStoreError, type PgStore, type WriterLock } from "./PgStore.js"

export class PgStorage implements PeerStorage {
  /**
   * PostgreSQL never hands back a half-written or garbled row (its WAL makes a
   * commit whole; a damaged page is an error, not data), which is what core
   * relies on `checksummed` for: no implausible record is ever read back.
   */
  readonly checksummed = true
  readonly damaged: readonly DamagedRecord[] = []
  readonly damage: StorageDamage = { catalog: false, documents: [], unknownDocuments: false }
  #writes: Promise<unknown> = Promise.resolve()
  #writer: Pick<WriterLock, "pid" | "startedAt"> | undefined
  readonly #chunks: string

  constructor(readonly store: PgStore) {
    this.#chunks = store.table("chunks")
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    const { rows } = await this.store.query<{ data: Buffer }>(`SELECT data FROM ${this.#chunks} WHERE key = $1`, [checkKey(key)])
    return rows[0] ? new Uint8Array(rows[0].data) : undefined
  }

  async loadRange(prefix: StorageKey): Promise<Chunk[]> {
    const { rows } = await this.store.query<{ key: string[]; data: Buffer }>(
      `SELECT key, data FROM ${this.#chunks} ${whereUnder(prefix)}`,
      prefix.length > 0 ? [prefix[0], checkKey(prefix)] : [],
    )
    return rows.map(row => ({ key: row.key, data: new Uint8Array(row.data) }))
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    return this.saveBatch([{ key, data }])
  }

  remove(key: StorageKey): Promise<void> {
    return this.#write(`DELETE FROM ${this.#chunks} WHERE key = $1`, () => [checkKey(key)])
  }

  removeRange(prefix: StorageKey): Promise<void> {
    return this.#write(`DELETE FROM ${this.#chunks} ${whereUnder(prefix)}`, () => (prefix.length > 0 ? [prefix[0], checkKey(prefix)] : []))
  }

  saveBatch(chunks: readonly BatchChunk[]): Promise<void> {
    // Checked before anything is sent, so a bad chunk rejects the batch with nothing saved.
    const last = new Map<string, BatchChunk>()
    try {
      for (const chunk of chunks) {
        checkKey(chunk.key)
        if (!(chunk.data instanceof Uint8Array))
          throw new TypeError(`cannot save ${JSON.stringify(chunk.key)}: its value is ${typeof chunk.data}, not a Uint8Array`)
        last.set(JSON.stringify(chunk.key), chunk)
      }
    } catch (error) {
      return Promise.reject(error)
    }
    if (last.size === 0) return Promise.resolve()
    const keys = [...last.values()].map(chunk => JSON.stringify(chunk.key))
    // Copied now: the caller may change its array once the call returns.
    const values = [...last.values()].map(chunk => Buffer.from(chunk.data))
    // One statement is one transaction: every chunk lands or none does.
    return this.#write(
      `INSERT INTO ${this.#chunks} (key, data)
       SELECT ARRAY(SELECT jsonb_array_elements_text(k::jsonb)), d FROM unnest($1::text[], $2::bytea[]) AS t(k, d)
       ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data`,
      () => [keys, values],
    )
  }

  /**
   * Write only while `lock`'s session (PgStore.holdWriterLock: its pid and
   * start time, since the server reuses the pids of ended sessions) holds
   * the store: each write then checks, in its own transaction, that the
   * lock's session still has it. A process whose lock connection broke
   * is told at once, but writes already queued would otherwise still land
   * after a standby took over and read the catalog, and could overwrite the
   * records it writes next.
   */
  fence(lock: Pick<WriterLock, "pid" | "startedAt">): void {
    this.#writer = lock
  }

  #write(text: string, values: () => unknown[]): Promise<void> {
    const run = async () => {
      const params = values()
      const writer = this.#writer
      if (writer === undefined) return void (await this.store.query(text, params))
      await this.store.transaction(async client => {
        const held = await client.query(
          `SELECT 1 FROM pg_locks JOIN pg_stat_activity USING (pid)
           WHERE locktype = 'advisory' AND granted AND pid = $1 AND backend_start::text = $2`,
          [writer.pid, writer.startedAt],
        )
        if (held.rowCount === 0)
          throw new PgStoreError(`this process no longer holds the store at ${this.store.where} (another may be writing): write refused`)
        await client.query(text, params)
      })
    }
    const done = this.#writes.then(run)
    this.#writes = done.catch(() => {})
    return done
  }

  /** Nothing to repair: see `checksummed`. */
  async damageHandled(): Promise<void> {}

  /** PostgreSQL reclaims dead rows itself (autovacuum). */
  async compact(): Promise<void> {}

  /** Waits for this process's writes, then closes the store's connections (the peer closes its storage last). */
  async close(): Promise<void> {
    await this.#writes
    await this.store.close()
  }
}

/** `[]` is every key; otherwise the keys whose first parts are the prefix's (`head` narrows by index first). */
function whereUnder(prefix: StorageKey): string {
  return prefix.length === 0 ? "" : `WHERE head = $1 AND key[1:${prefix.length}] = $2::text[]`
}

function checkKey(key: StorageKey): StorageKey {
  if (!Array.isArray(key) || key.some(part => typeof part !== "string"))
    throw new TypeError(`a storage key is an array of strings, got ${JSON.stringify(key)}`)
  return key
}
