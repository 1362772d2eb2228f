/**
 * The browser's storage batches in real Chromium (IndexedDBStorage in
 * @cairn/web): a batch is one IndexedDB transaction and reads back whole, and
 * a page closed while a batch is being written leaves all of it or none.
 * Runs in the conformance page (test/browser/conformance).
 */
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildPageFromSources, chromiumAvailable, launchContext, servePage } from "../helpers/browser.js"

const PAGE = fileURLToPath(new URL("./conformance", import.meta.url))

describe.skipIf(!chromiumAvailable())("IndexedDB storage batches in Chromium", () => {
  let built: Awaited<ReturnType<typeof buildPageFromSources>> | undefined
  let http: Awaited<ReturnType<typeof servePage>>
  let browser: Awaited<ReturnType<typeof launchContext>>

  beforeAll(async () => {
    built = await buildPageFromSources(PAGE)
    http = await servePage(built.outDir)
    browser = await launchContext()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    http?.close()
    await built?.dispose()
  })

  async function page() {
    const opened = await browser.context.newPage()
    await opened.goto(`${http.origin}/`)
    await opened.waitForFunction(() => window.batches !== undefined, undefined, { timeout: 15_000 })
    return opened
  }

  it("writes a batch in one IndexedDB transaction, and a fresh page reads all of it back", async () => {
    const first = await page()
    const { transactions } = await first.evaluate(() => window.batches.save("one-transaction", 200, 1000))
    expect(transactions).toBe(1)
    await first.close()
    const second = await page()
    expect(await second.evaluate(() => window.batches.held("one-transaction", 200, 1000))).toEqual({ keys: 200, whole: true })
    await second.close()
  })

  it("keeps all of a batch or none of it when its page is closed while it is written", async () => {
    const outcomes: number[] = []
    for (let round = 0; round < 6; round++) {
      const name = `closed-mid-batch-${round}`
      const writer = await page()
      await writer.evaluate(([db]) => window.batches.start(db!, 400, 20_000), [name])
      await sleep(round * 15)
      await writer.close({ runBeforeUnload: false })
      const reader = await page()
      const held = await reader.evaluate(([db]) => window.batches.held(db!, 400, 20_000), [name])
      await reader.close()
      expect(held.whole, `round ${round}: a chunk read back differs from the one saved`).toBe(true)
      expect([0, 400], `round ${round}: ${held.keys} of the batch's 400 chunks were kept`).toContain(held.keys)
      outcomes.push(held.keys)
    }
    // Which rounds kept their batch depends on timing; the promise is only that none kept part of one.
    console.log(`batches kept whole after their page closed: ${outcomes.filter(n => n > 0).length} of ${outcomes.length}`)
  }, 90_000)
})
