/**
 * The conformance suites in real Chromium, for the adapters that live
 * there: IndexedDB storage and the tab channel. The suites run inside the
 * page (test/browser/conformance, bundled by Vite with the suites' own
 * sources); each case's result comes back here as a test of its own.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Page } from "playwright-core"
import { build, defaultClientConditions } from "vite"
import { afterAll, beforeAll, describe } from "vitest"
import type { CaseResult } from "../../packages/core/test/conformance/runner.js"
import { storageConformance } from "../../packages/core/test/conformance/storage.js"
import { transportConformance } from "../../packages/core/test/conformance/transport.js"
import { registerResults } from "../../packages/core/test/conformance/vitest.js"
import { chromiumAvailable, launchContext, servePage } from "../helpers/browser.js"
import { indexedDbStore, tabTransport } from "./conformance/subjects.js"

const PAGE = fileURLToPath(new URL("./conformance", import.meta.url))

describe.skipIf(!chromiumAvailable())("conformance suites in Chromium", () => {
  let outDir: string
  let http: Awaited<ReturnType<typeof servePage>>
  let browser: Awaited<ReturnType<typeof launchContext>>
  let page: Page

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), "cairn-conformance-page-"))
    // From sources ("source" condition), like the Node runs, so the page tests the code as it is now.
    await build({
      root: PAGE,
      configFile: false,
      logLevel: "error",
      resolve: { conditions: ["source", ...defaultClientConditions] },
      build: { outDir, emptyOutDir: true },
    })
    http = await servePage(outDir)
    browser = await launchContext()
    page = await browser.context.newPage()
    page.on("pageerror", error => console.error(`[page error] ${error.message}`))
    await page.goto(`${http.origin}/`)
    await page.waitForFunction(() => window.conformance !== undefined, undefined, { timeout: 15_000 })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    http?.close()
    if (outDir) await rm(outDir, { recursive: true, force: true })
  })

  const inPage = (suite: "indexedDb" | "tabs") => () => page.evaluate(name => window.conformance[name]!(), suite) as Promise<CaseResult[]>

  registerResults("storage conformance: IndexedDB", storageConformance(indexedDbStore), inPage("indexedDb"))
  registerResults("transport conformance: tab channel (TabServer and TabDialer)", transportConformance(tabTransport), inPage("tabs"))
})
