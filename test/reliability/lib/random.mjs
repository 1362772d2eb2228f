// A small seeded PRNG (mulberry32) and the few helpers the reliability runs
// need. Every random choice in a run comes from one of these, so a seed
// names a run.

/** A generator of floats in [0, 1) from a 32-bit seed. */
export function mulberry32(seed) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Random {
  constructor(seed) {
    this.seed = seed >>> 0
    this.next = mulberry32(this.seed)
  }

  /** An integer in [min, max]. */
  int(min, max) {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** True with probability p. */
  chance(p) {
    return this.next() < p
  }

  /** One item of a non-empty array (always draws once, so the stream of draws does not depend on the array). */
  pick(items) {
    const r = this.next()
    return items.length === 0 ? undefined : items[Math.floor(r * items.length)]
  }

  /** A key of `weights` ({name: weight}), chosen by weight. */
  weighted(weights) {
    const entries = Object.entries(weights).filter(([, w]) => w > 0)
    const total = entries.reduce((n, [, w]) => n + w, 0)
    let r = this.next() * total
    for (const [key, weight] of entries) {
      if ((r -= weight) < 0) return key
    }
    return entries.at(-1)[0]
  }

  /** A short lowercase word. */
  word(min = 1, max = 6) {
    const length = this.int(min, max)
    let out = ""
    for (let i = 0; i < length; i++) out += String.fromCharCode(97 + this.int(0, 25))
    return out
  }

  /** A new generator derived from this one (for a sub-task that must not shift the parent's stream). */
  fork() {
    return new Random(Math.floor(this.next() * 4294967296))
  }
}

/** A fresh seed (for runs that were not given one). */
export function randomSeed() {
  return Math.floor(Math.random() * 4294967296) >>> 0
}
