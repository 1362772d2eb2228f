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
 *
 * Several processes share it (a SequencedStorage, see core): every batch is
 * numbered by the store in commit order and notifies the store's channel
 * inside its transaction, so the notification is delivered on commit and
 * only if it commits; each process's PgFollower reads what others committed.
 */
import type { Chunk, StorageKey } from "@automerge/automerge-repo"
import { randomUUID } from "node:crypto"
import type { BatchChunk, CommittedRow, SequencedStorage } from "@cairn/core"
import type { PeerStorage, StorageDamage } from "../openStorage.js"
import type { DamagedRecord } from "../LogStorageAdapter.js"
import type { PgStore } from "./PgStore.js"

/** The largest row a follower is sent the bytes of (a document's incremental chunk is a few hundred bytes; a compaction's snapshot may be megabytes). */
const FOLLOWED_BYTES = 64 * 1024

export class PgStorage implements PeerStorage, SequencedStorage {
  readonly sequenced = true
  /** Names this process's rows (`writer`), so its follower does not take its own chunks for another's. */
  readonly writer = randomUUID()
  /**
   * PostgreSQL never hands back a half-written or garbled row (its WAL makes a
   * commit whole; a damaged page is an error, not data), which is what core
   * relies on `checksummed` for: no implausible record is ever read back.
   */
  readonly checksummed = true
  readonly damaged: readonly DamagedRecord[] = []
  readonly damage: StorageDamage = { catalog: false, documents: [], unknownDocuments: false }
  #writes: Promise<unknown> = Promise.resolve()
  readonly #chunks: string
  /** The number of this process's latest commit, and up to which commit its follower has applied the store's. */
  #committed = 0
  #applied = 0
  readonly #waiting = new Set<{ upTo: number; resolve: () => void }>()
  /** Asks the follower to read now (set by PgFollower). */
  wake: () => void = () => {}

  constructor(readonly store: PgStore) {
    this.#chunks = store.table("chunks")
  }

  async sequence(): Promise<{ epoch: string; seq: number }> {
    const { rows } = await this.store.query<{ epoch: string; seq: string }>(`SELECT epoch, seq FROM ${this.store.table("sequence")}`)
    return { epoch: rows[0]!.epoch, seq: Number(rows[0]!.seq) }
  }

  async loadCommitted(prefix: StorageKey): Promise<CommittedRow[]> {
    if (prefix.length === 0) throw new TypeError("loadCommitted needs a prefix")
    const { rows } = await this.store.query<RowOf>(
      `SELECT key, data, seq, prev, coalesce(writer = $3, false) AS own FROM ${this.#chunks} ${whereUnder(prefix)}`,
      [prefix[0], checkKey(prefix), this.writer],
    )
    return rows.map(committedRow)
  }

  /**
   * What commits after `after` left, up to the newest commit (at most `limit`
   * commits ahead): every row but the checkpoints and automerge-repo's sync
   * states (what a process keeps of the clients it serves), with their bytes:
   * always a catalog row's, a document chunk's unless it is this process's
   * own or larger than FOLLOWED_BYTES (then whoever needs it reads it, see
   * Replica.applyCommitted). Every commit up to `upTo` is in: numbers are
   * given in commit order, so none below the newest one read is still to
   * come. One statement, so one snapshot and one round trip.
   */
  async committedSince(after: number, limit: number): Promise<{ rows: CommittedRow[]; upTo: number }> {
    const { rows } = await this.store.query<RowOf & { top: string }>(
      `WITH t AS (SELECT least(seq, $1::bigint + $2) AS top FROM ${this.store.table("sequence")})
       SELECT t.top, c.key, CASE WHEN c.head = 'cairn-catalog' OR (c.writer IS DISTINCT FROM $3 AND length(c.data) <= ${FOLLOWED_BYTES}) THEN c.data END AS data,
         c.seq, c.prev, coalesce(c.writer = $3, false) AS own
       FROM t LEFT JOIN ${this.#chunks} c ON c.seq > $1 AND c.seq <= t.top AND c.head <> 'cairn-sync' AND c.key[2] IS DISTINCT FROM 'sync-state'
       ORDER BY c.seq`,
      [after, limit, this.writer],
    )
    const top = Number(rows[0]!.top)
    if (top <= after) return { rows: [], upTo: after }
    return { rows: rows.filter(row => row.key !== null).map(committedRow), upTo: top }
  }

  /** The follower applied every commit up to `seq`. */
  noteApplied(seq: number): void {
    this.#applied = Math.max(this.#applied, seq)
    for (const waiter of this.#waiting) {
      if (waiter.upTo > this.#applied) continue
      this.#waiting.delete(waiter)
      waiter.resolve()
    }
  }

  applied(): Promise<void> {
    const upTo = this.#committed
    if (upTo <= this.#applied) return Promise.resolve()
    const done = new Promise<void>(resolve => this.#waiting.add({ upTo, resolve }))
    this.wake()
    return done
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
    // One transaction: every chunk lands or none does. Taking the next number locks the sequence row until the
    // commit, so the next batch gets its number only once this one is committed; the notification goes on commit.
    const run = () =>
      this.store.transaction(async client => {
        const { rows } = await client.query<{ seq: string }>(`UPDATE ${this.store.table("sequence")} SET seq = seq + 1 RETURNING seq`)
        const seq = rows[0]!.seq
        await client.query(
          `INSERT INTO ${this.#chunks} AS c (key, data, seq, prev, writer)
           SELECT ARRAY(SELECT jsonb_array_elements_text(k::jsonb)), d, $3, 0, $4 FROM unnest($1::text[], $2::bytea[]) AS t(k, d)
           ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, seq = EXCLUDED.seq, prev = CASE WHEN c.writer IS DISTINCT FROM EXCLUDED.writer THEN c.seq ELSE 0 END, writer = EXCLUDED.writer`,
          [keys, values, seq, this.writer],
        )
        await client.query(`NOTIFY ${this.store.channel}, '${Number(seq)}'`)
        return Number(seq)
      })
    // Counted once committed: a batch rolled back has no number anyone waits for.
    return this.#queue(async () => void (this.#committed = Math.max(this.#committed, await run())))
  }

  #write(text: string, values: () => unknown[]): Promise<void> {
    return this.#queue(async () => void (await this.store.query(text, values())))
  }

  #queue(run: () => Promise<void>): Promise<void> {
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

interface RowOf {
  key: string[]
  data: Buffer | null
  seq: string
  prev: string
  own: boolean
}

function committedRow(row: RowOf): CommittedRow {
  return {
    key: row.key,
    data: row.data ? new Uint8Array(row.data) : undefined,
    seq: Number(row.seq),
    prev: Number(row.prev),
    own: row.own,
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
