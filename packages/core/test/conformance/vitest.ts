/**
 * Registers a conformance suite's cases as Vitest tests: one test per case.
 * A case the adapter cannot do (it says why, see the subjects' `cannot`) is
 * not a skipped test, which CI would count as missing: its title says so and
 * its reason, and it checks that a reason was given. Node-side only; in a
 * browser page the cases run through `runCases` and the results come back
 * to `registerResults`.
 */
import { beforeAll, describe, it } from "vitest"
import type { CaseResult, ConformanceCase } from "./runner.js"

export interface RegisterOptions {
  /** Per-case timeout, in ms. */
  readonly timeout?: number
}

export function registerCases(title: string, cases: readonly ConformanceCase[], options: RegisterOptions = {}): void {
  describe(title, () => {
    for (const testCase of cases) {
      if (testCase.skip !== undefined) notApplicable(testCase.name, testCase.skip)
      else it(testCase.name, { timeout: options.timeout ?? 20_000 }, () => testCase.run())
    }
  })
}

/**
 * For cases that run elsewhere (a browser page): `cases` is the same suite
 * built here from the same subject, for its names; `run` runs it there once
 * and returns the results, which each test then reports.
 */
export function registerResults(
  title: string,
  cases: readonly ConformanceCase[],
  run: () => Promise<readonly CaseResult[]>,
  options: RegisterOptions = {},
): void {
  describe(title, () => {
    let results: Map<string, CaseResult>
    beforeAll(async () => {
      results = new Map((await run()).map(result => [result.name, result]))
    }, options.timeout ?? 60_000)
    for (const { name, skip } of cases) {
      if (skip !== undefined) {
        notApplicable(name, skip)
        continue
      }
      it(name, () => {
        const result = results.get(name)
        if (!result) throw new Error(`the page did not run "${name}"`)
        if (result.status === "skipped")
          throw new Error(`the page skipped "${name}" (${result.reason}), which the subject here says it can run`)
        if (result.status === "failed") throw new Error(result.error)
      })
    }
  })
}

function notApplicable(name: string, reason: string): void {
  it(`${name}: not applicable (${reason})`, () => {
    if (reason.trim() === "") throw new Error(`"${name}" is declared impossible without a reason`)
  })
}
