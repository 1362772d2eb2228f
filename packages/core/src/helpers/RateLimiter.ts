/** A token bucket: `rate` tokens a second, holding at most `burst`. */
export class RateLimiter {
  #tokens: number
  #last = performance.now()

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.#tokens = burst
  }

  /** Take one token; false when the bucket is empty. */
  take(): boolean {
    const now = performance.now()
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate)
    this.#last = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
