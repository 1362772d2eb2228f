/**
 * Work on keys taken in turns: `run` waits until no earlier work on any of
 * its keys is running, and keeps later work on them waiting until it is done.
 */
export class Turns {
  readonly #turns = new Map<string, Promise<void>>()

  run<T>(keys: string[], work: () => Promise<T>): Promise<T> {
    if (keys.length === 0) return work()
    const previous = Promise.all(keys.map(key => this.#turns.get(key)))
    let finish!: () => void
    const turn = new Promise<void>(resolve => (finish = resolve))
    for (const key of keys) this.#turns.set(key, turn)
    return previous.then(work).finally(() => {
      finish()
      for (const key of keys) if (this.#turns.get(key) === turn) this.#turns.delete(key)
    })
  }

  /** True while work on `key` runs or waits. */
  busy(key: string): boolean {
    return this.#turns.has(key)
  }
}
