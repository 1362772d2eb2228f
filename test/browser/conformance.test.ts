/**
 * The conformance suites in real Chromium, for the adapters that live
 * there: IndexedDB storage and the tab channel. The suites run inside the
 * page (test/browser/conformance, bundled by Vite with the suites' own
 * sources); each case's result comes back here as a test of its own.
 */
import { fileURLToPath } from "node:url"
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe } from "vitest"
import type { CaseResult } from "../../packages/core/test/conformance/runner.js"
import { storageConformance } from "../../packages/core/test/conformance/storage.js"
import { transportConformance } from "../../packages/core/test/conformance/transport.js"
import { registerResults } from "../../packages/core/test/conformance/vitest.js"
import { buildPageFromSources, chromiumAvailable, launchContext, servePage } from "../helpers/browser.js"
import { indexedDbStore, tabTransport } from "./conformance/subjects.js"

const PAGE = fileURLToPath(new URL("./conformance", import.meta.url))

describe.skipIf(!chromiumAvailable())("conformance suites in Chromium", () => {
  let built: Awaited<ReturnType<typeof buildPageFromSources>> | undefined
  let http: Awaited<ReturnType<typeof servePage>>
  let browser: Awaited<ReturnType<typeof launchContext>>
  let page: Page

  beforeAll(async () => {
    built = await buildPageFromSources(PAGE)
    http = await servePage(built.outDir)
    browser = await launchContext()
    page = await browser.context.newPage()
    page.on("pageerror", error => console.error(`[page error] ${error.message}`))
    await page.goto(`${http.origin}/`)
    await page.waitForFunction(() => window.conformance !== undefined, undefined, { timeout: 15_000 })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    http?.close()
    await built?.dispose()
  })

  const inPage = (suite: "indexedDb" | "tabs") => () => page.evaluate(name => window.conformance[name]!(), suite) as Promise<CaseResult[]>

  registerResults("storage conformance: IndexedDB", storageConformance(indexedDbStore), inPage("indexedDb"))
  registerResults("transport conformance: tab channel (TabServer and TabDialer)", transportConformance(tabTransport), inPage("tabs"))
})
