/**
 * Group commit: writes are saved together (the documents, then the
 * catalog), and every caller's promise resolves once that save is on disk.
 * A burst of 1,000 creates costs one round of writes, not 1,000, while each
 * write is still acknowledged only when it is durable.
 *
 * One save runs at a time, and everything committed while it runs waits for
 * the next one, which takes all of it. Under a steady stream of writes (a
 * server ingesting from 50 clients) the number of saves per second therefore
 * stays what the disk can do, and a write waits at most for the save in
 * progress and its own; closing a group on every turn of the event loop
 * instead queued one save (a document flush, a catalog write, their fsyncs)
 * per turn behind the running one, and that queue, and every ingest and every
 * pull served behind it, grew for as long as the writes kept coming.
 */
export class GroupCommit {
  #pending = new Set<string>()
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = []
  #scheduled = false
  /** The save in progress, if any (never rejects: its callers get its error). */
  #running: Promise<void> | undefined

  /** `save` writes the documents, then the catalog (an entry must never reach the disk before its document does). */
  constructor(private readonly save: (ids: string[]) => Promise<void>) {}

  /** Queue documents to save; resolves when they (and the catalog) are on disk. */
  commit(ids: Iterable<string>): Promise<void> {
    for (const id of ids) this.#pending.add(id)
    const promise = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }))
    this.#schedule()
    return promise
  }

  /** Resolves when everything committed so far is on disk. */
  async idle(): Promise<void> {
    if (this.#waiters.length > 0) await this.commit([])
    else await this.#running
  }

  #schedule(): void {
    // Writes made in the same turn of the event loop join one group; a save in progress holds the next group open.
    if (this.#scheduled || this.#running) return
    this.#scheduled = true
    setTimeout(() => this.#run(), 0)
  }

  #run(): void {
    this.#scheduled = false
    if (this.#waiters.length === 0) return
    const ids = [...this.#pending]
    const waiters = this.#waiters
    this.#pending = new Set()
    this.#waiters = []
    this.#running = this.save(ids).then(
      () => waiters.forEach(w => w.resolve()),
      error => waiters.forEach(w => w.reject(error)),
    )
    void this.#running.then(() => {
      this.#running = undefined
      // What was committed during the save is the next group, complete already: save it at once.
      this.#run()
    })
  }
}
