/**
 * Waiting in tests, written once for every package's tests (they import it
 * by path). Prefer awaiting an event; poll only for what nothing announces.
 * No Node import: the conformance suites run it in a browser page too.
 */

export interface WaitOptions {
  /** Give up after this long (default 5 s). */
  readonly timeoutMs?: number
  /** Look again after this long (default 10 ms). */
  readonly intervalMs?: number
  /** What is awaited, for the error when it never comes. */
  readonly what?: string
}

/**
 * Resolves with the first truthy value `check` returns; a throw counts as
 * "not yet". Rejects after the timeout with what was awaited and the last
 * error `check` threw.
 */
export async function waitFor<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: number | WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 10, what = "a condition" } = typeof options === "number" ? { timeoutMs: options } : options
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ""}`,
        { cause: last },
      )
    }
    await sleep(intervalMs)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
