/**
 * How one process of a relay learns what the others commit to the shared
 * PostgreSQL store: it LISTENs on the store's channel (every batch notifies
 * it inside its transaction, so a notification means a commit), and on each
 * notification, and each time its listen connection is (re)made, reads the
 * rows committed after the last commit it applied (PgStorage.committedSince)
 * and hands them to the database (Replica.applyCommitted), which applies
 * them in memory without writing them again. A notification lost while the
 * connection was down costs nothing: the read on reconnecting finds its rows.
 */
import type pg from "pg"
import type { Replica } from "@cairn/core"
import type { PgStorage } from "./PgStorage.js"

/** Commits read at once (a long outage is caught up a page at a time). */
const PAGE = 200
/** Wait before making the listen connection again after it broke. */
const RECONNECT_MS = 500

export class PgFollower {
  #applied: number
  #client: pg.Client | undefined
  #reading: Promise<void> | undefined
  #again = false
  #closed = false
  #retry: NodeJS.Timeout | undefined
  /** Another process changed the relay's trust list (or a notification of it may have been missed): read it again. */
  onTrust: () => void = () => {}

  constructor(
    private readonly storage: PgStorage,
    private readonly replica: Pick<Replica, "applyCommitted">,
    /** The commit the catalog was loaded at (Catalog.durableSeq). */
    from: number,
    /** A read or the listen connection failed (it is tried again). */
    private readonly onError: (error: Error) => void = () => {},
  ) {
    this.#applied = from
    storage.noteApplied(from)
    storage.wake = () => void this.catchUp()
  }

  /** Listen, then read what was committed since the catalog was loaded. */
  async start(): Promise<void> {
    await this.#listen()
  }

  /** The commit this process has applied everything up to. */
  get applied(): number {
    return this.#applied
  }

  /** Read and apply what was committed since the last read; resolves once caught up with the commits made before the call. */
  catchUp(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    if (this.#reading) {
      this.#again = true
      return this.#reading
    }
    this.#reading = this.#read().finally(() => (this.#reading = undefined))
    return this.#reading
  }

  async #read(): Promise<void> {
    try {
      do {
        this.#again = false
        for (;;) {
          const { rows, upTo } = await this.storage.committedSince(this.#applied, PAGE)
          if (upTo === this.#applied || this.#closed) break
          await this.replica.applyCommitted(rows, upTo)
          this.#applied = upTo
          this.storage.noteApplied(upTo)
        }
      } while (this.#again && !this.#closed)
    } catch (error) {
      if (this.#closed) return
      this.onError(error as Error)
      // Tried again soon, so a commit is never left unread behind a failed read.
      this.#retry ??= setTimeout(() => {
        this.#retry = undefined
        void this.catchUp()
      }, RECONNECT_MS)
    }
  }

  async #listen(): Promise<void> {
    if (this.#closed) return
    let client: pg.Client
    try {
      // Named with the OS process, so an operator (or a test) can tell in pg_stat_activity whose it is.
      client = await this.storage.store.dedicatedClient(`cairn listen pid=${process.pid}`)
      this.#client = client
      client.on("notification", message => (message.payload === "trust" ? this.onTrust() : void this.catchUp()))
      client.on("error", () => this.#lost(client))
      client.on("end", () => this.#lost(client))
      await client.query(`LISTEN ${this.storage.store.channel}`)
    } catch (error) {
      if (this.#closed) return
      this.onError(error as Error)
      this.#lost(this.#client)
      return
    }
    // Commits made while no connection listened (before start, or while it was down) are read now.
    this.onTrust()
    await this.catchUp()
  }

  #lost(client: pg.Client | undefined): void {
    if (this.#closed || client !== this.#client) return
    this.#client = undefined
    void client?.end().catch(() => {})
    setTimeout(() => void this.#listen(), RECONNECT_MS)
  }

  /** Stop listening; a read in progress finishes first. */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    // Nothing is applied from now on: whoever waits for it (a pull being answered while the peer closes) goes on.
    this.storage.wake = () => {}
    this.storage.noteApplied(Number.POSITIVE_INFINITY)
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
    await this.#reading?.catch(() => {})
  }
}
