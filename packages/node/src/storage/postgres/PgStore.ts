/**
 * A relay's store in PostgreSQL: one connection pool, one schema of Cairn's
 * own tables, created on first use. PgStorage (documents, catalog,
 * checkpoints) and the relay's other state (identity, trust list, types, in
 * PgState.ts) are built on it.
 *
 * Errors a user can act on (a bad URL, a server that refuses the connection,
 * a wrong password, a missing database) become a PgStoreError naming the
 * problem and the server, never pg's internals: `cairn serve --store URL`
 * prints the message as it is.
 */
import type pg from "pg"

// pg (and what it loads at import, about 40 ms in a fresh process) is imported by the first store opened, so a peer
// on a data directory, which never uses it, does not pay for it at start.
let pgModule: Promise<typeof pg> | undefined
const loadPg = (): Promise<typeof pg> => (pgModule ??= import("pg").then(module => module.default))
import { CairnError } from "@cairn/core"

/** The PostgreSQL store cannot be used: the message says why and what to check. */
export class PgStoreError extends CairnError {}

export interface PgStoreOptions {
  /** The schema Cairn's tables live in (default `cairn`); several stores may share a database in separate schemas. */
  schema?: string
  /** Connections this process keeps at most (default 10); its follower (PgFollower) holds one more of its own, to listen. */
  maxConnections?: number
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

export class PgStore {
  private constructor(
    readonly pool: pg.Pool,
    readonly schema: string,
    /** The server as the user named it, without the password, for messages. */
    readonly where: string,
    private readonly config: pg.ClientConfig,
    private readonly pgLib: typeof pg,
  ) {}

  /** Connect, check the server answers, and create the schema and tables if missing. */
  static async open(url: string, options: PgStoreOptions = {}): Promise<PgStore> {
    const { config, where, schema: named } = parseUrl(url)
    const schema = options.schema ?? named ?? "cairn"
    if (!SCHEMA_NAME.test(schema))
      throw new PgStoreError(`invalid schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _`)
    const pgLib = await loadPg()
    const pool = new pgLib.Pool({ ...config, max: options.maxConnections ?? 10, idleTimeoutMillis: 30_000 })
    // An idle connection dropped by the server (a restart) must not crash the process: the next query reconnects.
    pool.on("error", () => {})
    const store = new PgStore(pool, schema, where, config, pgLib)
    try {
      await store.query(SCHEMA_SQL(schema))
    } catch (error) {
      await pool.end().catch(() => {})
      throw error
    }
    return store
  }

  /** A table of this store's schema, quoted for SQL. */
  table(name: "chunks" | "state" | "sequence"): string {
    return `"${this.schema}"."${name}"`
  }

  /** The channel a commit notifies (its number as the payload), quoted for LISTEN. */
  get channel(): string {
    return `"cairn_${this.schema}"`
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values)
    } catch (error) {
      throw this.explain(error)
    }
  }

  /** Run `work` in one SQL transaction: committed if it resolves, rolled back if it throws. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      throw this.explain(error)
    }
    try {
      await client.query("BEGIN")
      const result = await work(client)
      await client.query("COMMIT")
      return result
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {})
      throw this.explain(error)
    } finally {
      client.release()
    }
  }

  /** A connection of its own, outside the pool: LISTEN lives exactly as long as it. */
  async dedicatedClient(applicationName?: string): Promise<pg.Client> {
    const client = new this.pgLib.Client({ ...this.config, ...(applicationName ? { application_name: applicationName } : {}) })
    try {
      await client.connect()
    } catch (error) {
      throw this.explain(error)
    }
    return client
  }

  /** Turn what pg throws into a PgStoreError that says what is wrong, when it is something a user can fix. */
  explain(error: unknown): Error {
    if (error instanceof CairnError) return error
    const e = error as { code?: string; message?: string }
    const user = (this.config.user as string | undefined) ?? "(default user)"
    const reasons: Record<string, string> = {
      ECONNREFUSED: `cannot reach PostgreSQL at ${this.where}: connection refused (is the server running, on that host and port?)`,
      ENOTFOUND: `cannot reach PostgreSQL at ${this.where}: no such host`,
      ETIMEDOUT: `cannot reach PostgreSQL at ${this.where}: the connection timed out`,
      ECONNRESET: `PostgreSQL at ${this.where} closed the connection`,
      "28P01": `PostgreSQL at ${this.where} refused the password for user ${JSON.stringify(user)}`,
      "28000": `PostgreSQL at ${this.where} does not let user ${JSON.stringify(user)} in: ${e.message ?? ""} (check pg_hba.conf and the role)`,
      "3D000": `PostgreSQL at ${this.where} has no such database: ${e.message ?? ""} (create it with createdb)`,
      "42501": `PostgreSQL at ${this.where}: user ${JSON.stringify(user)} lacks a privilege Cairn needs: ${e.message ?? ""}`,
      "57P01": `PostgreSQL at ${this.where} is shutting down`,
      "57P03": `PostgreSQL at ${this.where} is starting up and not accepting connections yet`,
    }
    const reason = e.code ? reasons[e.code] : undefined
    if (reason) return new PgStoreError(reason)
    if (e.message?.includes("password must be a string") || e.message?.includes("SASL"))
      return new PgStoreError(`PostgreSQL at ${this.where} asks user ${JSON.stringify(user)} for a password and the URL gives none`)
    return error instanceof Error ? error : new Error(String(error))
  }

  async close(): Promise<void> {
    await this.pool.end()
  }
}

/** `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]`. */
function parseUrl(url: string): { config: pg.ClientConfig; where: string; schema: string | undefined } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new PgStoreError(`not a PostgreSQL URL: ${JSON.stringify(url)} (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)`)
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")
    throw new PgStoreError(
      `not a PostgreSQL URL: ${JSON.stringify(parsed.protocol)} (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)`,
    )
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""))
  if (!parsed.hostname) throw new PgStoreError(`the PostgreSQL URL names no host: expected postgres://USER@HOST[:PORT]/DATABASE`)
  if (!database || database.includes("/"))
    throw new PgStoreError(`the PostgreSQL URL names no database: expected postgres://USER@HOST[:PORT]/DATABASE`)
  const port = parsed.port ? Number(parsed.port) : 5432
  const config: pg.ClientConfig = {
    host: parsed.hostname.replace(/^\[|\]$/g, ""),
    port,
    database,
    ...(parsed.username ? { user: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    connectionTimeoutMillis: 10_000,
    application_name: "cairn",
  }
  for (const name of parsed.searchParams.keys())
    if (name !== "schema")
      throw new PgStoreError(`the PostgreSQL URL has an option Cairn does not know: ${JSON.stringify(name)} (only ?schema=NAME)`)
  return { config, where: `${parsed.hostname}:${port}/${database}`, schema: parsed.searchParams.get("schema") ?? undefined }
}

/**
 * The tables, created if missing (several processes may run this at once:
 * CREATE … IF NOT EXISTS can still race on the catalog's unique index, so it
 * runs under an advisory lock held to the end of its transaction). Its DDL
 * locks the chunks table even when there is nothing to change, so it first
 * takes the sequence row, as a batch does before it writes chunks: taken in
 * the other order, a process opening the store while another committed a
 * batch deadlocked (and the opening process exited).
 *
 * - chunks: automerge-repo's key-value storage; a key is text[], so a prefix
 *   matches whole key parts. `head` (the key's first part, a document id or
 *   `cairn-catalog`) is indexed: every prefix query names it.
 * - state: the relay's own small records (identity, trust list, types).
 * - sequence: one row, the store's epoch and the number of its latest commit.
 *   Each batch increments it inside its transaction, so the row's lock orders
 *   commits: numbers are given in commit order (see PgStorage.saveBatch). A
 *   chunk row keeps the number of the commit that wrote it (`seq`), of the one
 *   whose version it replaced (`prev`), and which process wrote it (`writer`).
 */
const SCHEMA_SQL = (schema: string) => `
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('cairn schema ${schema}'));
DO $$ BEGIN
  IF to_regclass('"${schema}"."sequence"') IS NOT NULL THEN PERFORM 1 FROM "${schema}"."sequence" FOR UPDATE; END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS "${schema}";
CREATE TABLE IF NOT EXISTS "${schema}"."chunks" (key text[] PRIMARY KEY, head text GENERATED ALWAYS AS (key[1]) STORED, data bytea NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_head ON "${schema}"."chunks" (head);
CREATE TABLE IF NOT EXISTS "${schema}"."state" (name text PRIMARY KEY, value jsonb NOT NULL);
ALTER TABLE "${schema}"."chunks" ADD COLUMN IF NOT EXISTS seq bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS prev bigint NOT NULL DEFAULT 0, ADD COLUMN IF NOT EXISTS writer text;
CREATE INDEX IF NOT EXISTS chunks_seq ON "${schema}"."chunks" (seq);
CREATE TABLE IF NOT EXISTS "${schema}"."sequence" (one boolean PRIMARY KEY DEFAULT true CHECK (one), epoch text NOT NULL, seq bigint NOT NULL);
INSERT INTO "${schema}"."sequence" (epoch, seq) VALUES (substr(md5(random()::text || clock_timestamp()::text), 1, 16), 0) ON CONFLICT DO NOTHING;
COMMIT;`
