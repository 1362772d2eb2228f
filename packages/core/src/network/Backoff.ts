/** How long a client waits between reconnection attempts. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 250. */
  readonly initialMs?: number
  /** The delay never grows past this, in ms. Default 30,000. */
  readonly maxMs?: number
  /** Each failed attempt multiplies the delay by this. Default 2. */
  readonly factor?: number
  /**
   * Fraction of the delay that is random, 0–1. Default 0.5: a delay of 1 s
   * becomes anything from 0.5 s to 1 s, so clients dropped by the same server
   * restart do not all come back in the same millisecond.
   */
  readonly jitter?: number
}

/**
 * Exponential backoff with jitter. `next()` gives the delay before the next
 * attempt; `reset()` after a connection that worked.
 */
export class Backoff {
  readonly #initialMs: number
  readonly #maxMs: number
  readonly #factor: number
  readonly #jitter: number
  readonly #random: () => number
  #attempt = 0

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.#initialMs = options.initialMs ?? 250
    this.#maxMs = options.maxMs ?? 30_000
    this.#factor = options.factor ?? 2
    this.#jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5))
    this.#random = random
    if (!(this.#initialMs >= 0) || !(this.#maxMs >= this.#initialMs) || !(this.#factor >= 1)) {
      throw new RangeError("backoff needs 0 <= initialMs <= maxMs and factor >= 1")
    }
  }

  /** The delay in ms before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt)
    // Stop counting once capped, so the exponent never overflows to Infinity.
    if (base < this.#maxMs && this.#initialMs > 0) this.#attempt++
    return base * (1 - this.#jitter * this.#random())
  }

  /** Start again from `initialMs`. */
  reset(): void {
    this.#attempt = 0
  }
}
