/**
 * The conformance suites' own small runner and assertions. The suites must
 * run unchanged inside a browser page (IndexedDB, the tab channel) as well
 * as under Vitest, so they import nothing from Vitest: a suite is a list of
 * named cases, `vitest.ts` registers them as tests in Node, and
 * `runCases` runs them in a page and hands back results for the test that
 * drives the page.
 *
 * Why the suites live under `packages/core/test/` and are imported by
 * relative path rather than as a `@cairn/core/testing` export: they are
 * test code (they throw on failure, make 8 MiB buffers, dial sockets), so
 * they stay out of the built package, and every consumer is a test in this
 * workspace that Vitest or Vite compiles from source anyway.
 */
import { sleep, waitFor } from "../wait.js"

/** One check of a suite, named as it reads in the test report. */
export interface ConformanceCase {
  readonly name: string
  /** Why this adapter cannot be held to the case; a skipped case is reported by name with this reason. */
  readonly skip?: string
  readonly run: () => Promise<void>
}

export type CaseResult =
  | { readonly name: string; readonly status: "passed"; readonly ms: number }
  | { readonly name: string; readonly status: "failed"; readonly ms: number; readonly error: string }
  | { readonly name: string; readonly status: "skipped"; readonly reason: string }

/** A suite's expectation did not hold. */
export class ConformanceError extends Error {
  override readonly name = "ConformanceError"
}

/** Run every case in order (they share ports, stores and channels, so never at once) and report each. */
export async function runCases(cases: readonly ConformanceCase[]): Promise<CaseResult[]> {
  const results: CaseResult[] = []
  for (const testCase of cases) {
    if (testCase.skip !== undefined) {
      results.push({ name: testCase.name, status: "skipped", reason: testCase.skip })
      continue
    }
    const started = Date.now()
    try {
      await testCase.run()
      results.push({ name: testCase.name, status: "passed", ms: Date.now() - started })
    } catch (error) {
      const text = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error)
      results.push({ name: testCase.name, status: "failed", ms: Date.now() - started, error: text })
    }
  }
  return results
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ConformanceError(message)
}

/** Structural equality of what adapters return: primitives, arrays, plain objects and byte arrays. */
export function checkEqual(actual: unknown, expected: unknown, what: string): void {
  if (!same(actual, expected)) throw new ConformanceError(`${what}: expected ${preview(expected)}, got ${preview(actual)}`)
}

/** Byte-for-byte equality, without the cost of a generic deep compare on megabytes. */
export function checkBytes(actual: Uint8Array | undefined, expected: Uint8Array, what: string): void {
  check(actual instanceof Uint8Array, `${what}: expected ${expected.byteLength} bytes, got ${preview(actual)}`)
  check(actual.byteLength === expected.byteLength, `${what}: expected ${expected.byteLength} bytes, got ${actual.byteLength}`)
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) throw new ConformanceError(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`)
  }
}

/** Resolves with `promise`, or fails the case with `what` after `ms`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConformanceError(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** True when `promise` settles within `ms` (it keeps running either way). */
export async function settlesWithin(ms: number, promise: Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<false>(resolve => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      late,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves once `condition()` holds, looking every 10 ms, for what no event announces (a log line); fails the case after `ms`. */
export async function eventually(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  await waitFor(condition, { timeoutMs: ms, what })
}

export { sleep }

/** Bytes 0..255 repeated to `length`, offset by `seed` so two values of one length differ. */
export function pattern(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = (i + seed * 31) & 0xff
  return bytes
}

function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i])
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => same(item, b[i]))
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every(key => key in b && same(a[key], b[key]))
  }
  return false
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function preview(value: unknown): string {
  if (value instanceof Uint8Array) {
    return `Uint8Array(${value.byteLength}) [${[...value.subarray(0, 8)].join(",")}${value.byteLength > 8 ? ",…" : ""}]`
  }
  try {
    const text = JSON.stringify(value, (_key, item) => (item instanceof Uint8Array ? preview(item) : item))
    if (text === undefined) return String(value)
    return text.length > 300 ? `${text.slice(0, 300)}…` : text
  } catch {
    return String(value)
  }
}

/** Keeps what a listener is given, and lets a case wait for an item that matches. */
export class Recorder<T> {
  readonly items: T[] = []
  readonly #waiters: { readonly matches: (item: T) => boolean; readonly resolve: (item: T) => void }[] = []

  /** Pass this as the listener. */
  readonly push = (item: T): void => {
    this.items.push(item)
    for (const waiter of [...this.#waiters]) {
      if (!waiter.matches(item)) continue
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
      waiter.resolve(item)
    }
  }

  /** The first item, recorded already or to come, that `matches`; fails the case after `ms`. */
  until(matches: (item: T) => boolean, what: string, ms = 5_000): Promise<T> {
    const found = this.items.find(matches)
    if (found !== undefined) return Promise.resolve(found)
    return within(ms, what, new Promise<T>(resolve => this.#waiters.push({ matches, resolve })))
  }
}
