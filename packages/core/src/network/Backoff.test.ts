import { describe, expect, it } from "vitest"
import { Backoff } from "./Backoff.js"

describe("Backoff", () => {
  it("grows by the factor up to the cap", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 })
    expect(Array.from({ length: 6 }, () => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000])
  })

  it("starts again after reset", () => {
    const backoff = new Backoff({ initialMs: 100, jitter: 0 })
    backoff.next()
    backoff.next()
    backoff.reset()
    expect(backoff.next()).toBe(100)
  })

  it("takes up to the jitter fraction off each delay", () => {
    expect(new Backoff({ initialMs: 1000, jitter: 0.5 }, () => 0).next()).toBe(1000)
    expect(new Backoff({ initialMs: 1000, jitter: 0.5 }, () => 0.999999).next()).toBeCloseTo(500, 0)
    const delays = Array.from({ length: 100 }, () => new Backoff({ initialMs: 1000 }).next())
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(500)
    expect(Math.max(...delays)).toBeLessThanOrEqual(1000)
    expect(new Set(delays).size).toBeGreaterThan(1)
  })

  it("defaults to 250 ms doubling to 30 s", () => {
    const backoff = new Backoff({ jitter: 0 })
    const delays = Array.from({ length: 12 }, () => backoff.next())
    expect(delays.slice(0, 3)).toEqual([250, 500, 1000])
    expect(delays.at(-1)).toBe(30_000)
  })

  it("never overflows, however many attempts fail", () => {
    const backoff = new Backoff({ initialMs: 1, maxMs: 10, jitter: 0 })
    for (let i = 0; i < 5000; i++) backoff.next()
    expect(backoff.next()).toBe(10)
  })

  it("rejects settings that make no sense", () => {
    expect(() => new Backoff({ initialMs: 100, maxMs: 10 })).toThrow(RangeError)
    expect(() => new Backoff({ factor: 0.5 })).toThrow(RangeError)
  })
})
