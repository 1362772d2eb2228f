/**
 * A value that changes over time, in one shape for every live result
 * (a document, a query's results, a peer's status): `value` and
 * `subscribe`. That is Svelte's store contract as it is, what React's
 * `useSyncExternalStore` needs, and a few lines for Vue, Solid or plain DOM
 * code.
 */

export interface Live<T> {
  /** The latest value. */
  readonly value: T
  /** Call `listener` with the value now and after every change. Returns the function that stops it. */
  subscribe(listener: (value: T) => void): () => void
}

/**
 * A live value. With `start`, its source runs only while someone listens:
 * started when the first listener subscribes, stopped when the last one
 * leaves. Without, its owner sets it (`set`). A listener that throws does
 * not stop the others (its error is rethrown on its own).
 */
export class LiveValue<T> implements Live<T> {
  #value: T
  readonly #listeners = new Set<(value: T) => void>()
  readonly #start: ((set: (value: T) => void) => () => void) | undefined
  readonly #same: (a: T, b: T) => boolean
  #stop: (() => void) | undefined

  /** `start` begins watching the source, reporting values through `set`, and returns the function that stops watching. `same` says when a new value is no change (default `Object.is`). */
  constructor(initial: T, start?: (set: (value: T) => void) => () => void, same: (a: T, b: T) => boolean = Object.is) {
    this.#value = initial
    this.#start = start
    this.#same = same
  }

  get value(): T {
    return this.#value
  }

  readonly subscribe = (listener: (value: T) => void): (() => void) => {
    this.#listeners.add(listener)
    if (this.#listeners.size === 1 && this.#start) this.#stop = this.#start(value => this.set(value))
    listener(this.#value)
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return
      const stop = this.#stop
      this.#stop = undefined
      stop?.()
    }
  }

  /** A new value: every listener hears it, unless it is the same as the last. */
  set(value: T): void {
    if (this.#same(value, this.#value)) return
    this.#value = value
    for (const listener of [...this.#listeners]) {
      try {
        listener(value)
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }

  /** Drop every listener and stop the source. */
  close(): void {
    this.#listeners.clear()
    const stop = this.#stop
    this.#stop = undefined
    stop?.()
  }
}
