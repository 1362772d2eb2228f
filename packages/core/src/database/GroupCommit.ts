/**
 * Group commit: writes made in the same turn of the event loop are saved
 * together (the documents, then the catalog), and every caller's promise
 * resolves once that save is on disk. A burst of 1,000 creates costs one
 * round of writes, not 1,000, while each write is still acknowledged only
 * when it is durable.
 */
export class GroupCommit {
  #pending = new Set<string>()
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = []
  #scheduled = false
  #running: Promise<void> = Promise.resolve()

  constructor(private readonly save: (ids: string[]) => Promise<void>) {}

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
    // Saves run one after another so an older save never lands after a newer one.
    this.#running = this.#running.then(
      () => this.save(ids).then(
        () => waiters.forEach(w => w.resolve()),
        error => waiters.forEach(w => w.reject(error)),
      ),
    )
  }
}
