/**
 * Group commit: writes made in the same turn of the event loop are saved
 * together (the documents, then the catalog), and every caller's promise
 * resolves once that save is on disk. A burst of 1,000 creates costs one
 * round of writes, not 1,000, while each write is still acknowledged only
 * when it is durable.
 */
export class GroupCommit {
  #pending = new Set<string>()
  /** Ids of groups closed but not yet saved, oldest first. */
  readonly #closed: string[][] = []
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = []
  #scheduled = false
  #running: Promise<void> = Promise.resolve()

  /**
   * `save` writes the documents, then the catalog. `queued` lists documents
   * changed since this group closed (in groups behind it, or not yet in a
   * group): the catalog flush writes every entry
   * changed so far, so those must be written first too (an entry must never
   * reach the disk before its document does).
   */
  constructor(private readonly save: (ids: string[], queued: () => string[]) => Promise<void>) {}

  /** Queue documents to save; resolves when they (and the catalog) are on disk. */
  commit(ids: Iterable<string>): Promise<void> {
    for (const id of ids) this.#pending.add(id)
    const promise = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }))
    if (!this.#scheduled) {
      this.#scheduled = true
      setTimeout(() => this.#run(), 0)
    }
    return promise
  }

  /** Resolves when everything queued so far is on disk. */
  async idle(): Promise<void> {
    if (this.#scheduled) await this.commit([])
    await this.#running
  }

  #run(): void {
    this.#scheduled = false
    const ids = [...this.#pending]
    const waiters = this.#waiters
    this.#pending = new Set()
    this.#waiters = []
    this.#closed.push(ids)
    const queued = () => [...this.#closed.slice(this.#closed.indexOf(ids) + 1).flat(), ...this.#pending]
    // Saves run one after another so an older save never lands after a newer one.
    this.#running = this.#running.then(() =>
      this.save(ids, queued)
        .finally(() => this.#closed.splice(this.#closed.indexOf(ids), 1))
        .then(
          () => waiters.forEach(w => w.resolve()),
          error => waiters.forEach(w => w.reject(error)),
        ),
    )
  }
}
