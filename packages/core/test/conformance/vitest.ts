/**
 * Registers a conformance suite's cases as Vitest tests: one test per case,
 * a skipped case shown as skipped with its reason. Node-side only; in a
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
      it(testCase.name, { timeout: options.timeout ?? 20_000 }, async context => {
        if (testCase.skip !== undefined) context.skip(testCase.skip)
        await testCase.run()
      })
    }
  })
}

/**
 * For cases that run elsewhere (a browser page): `cases` is the same suite
 * built here from the same subject, for its names; `run` runs it there once
 * and returns the results, which each test then reports.
 */
export function registerResults(title: string, cases: readonly ConformanceCase[], run: () => Promise<readonly CaseResult[]>, options: RegisterOptions = {}): void {
  describe(title, () => {
    let results: Map<string, CaseResult>
    beforeAll(async () => {
      results = new Map((await run()).map(result => [result.name, result]))
    }, options.timeout ?? 60_000)
    for (const { name } of cases) {
      it(name, context => {
        const result = results.get(name)
        if (!result) throw new Error(`the page did not run "${name}"`)
        if (result.status === "skipped") context.skip(result.reason)
        if (result.status === "failed") throw new Error(result.error)
      })
    }
  })
}
