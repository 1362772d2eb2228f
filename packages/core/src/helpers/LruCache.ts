/** A map that keeps at most `size` entries, forgetting the least recently used first. */
export class LruCache<K, V> {
  readonly #entries = new Map<K, V>()

  constructor(private readonly size: number) {}

  get(key: K): V | undefined {
    const value = this.#entries.get(key)
    if (value === undefined) return undefined
    this.#entries.delete(key)
    this.#entries.set(key, value)
    return value
  }

  /** Remove a key; returns its value, if it had one. */
  take(key: K): V | undefined {
    const value = this.#entries.get(key)
    this.#entries.delete(key)
    return value
  }

  set(key: K, value: V): void {
    this.#entries.delete(key)
    this.#entries.set(key, value)
    if (this.#entries.size > this.size) this.#entries.delete(this.#entries.keys().next().value!)
  }
}
