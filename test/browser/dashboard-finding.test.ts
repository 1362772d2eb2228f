/**
 * Finding a document among 10,000 in the dashboard, in real Chromium: the
 * dashboard peer in its own process holds 10,000 tasks (made there in ten
 * transactions of 1,000); the page searches for one, filters by a field,
 * sorts by a column and pages to the last page, while the server answers
 * each with one page and the total.
 */
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chromiumAvailable } from "../helpers/browser.js"
import { DashboardProcess, openDashboard, screenshot } from "../helpers/DashboardProcess.js"
import { TempDirs } from "../helpers/PeerProcess.js"

const COUNT = 10_000
const NEEDLE = { at: 7777, title: "Renew the passport" }

describe.skipIf(!chromiumAvailable())("dashboard: finding a document among 10,000", () => {
  const dirs = new TempDirs()
  let dashboard: DashboardProcess
  let browser: { context: BrowserContext; close: () => Promise<void> }
  let page: Page
  let problems: string[]
  let ids: string[]

  beforeAll(async () => {
    dashboard = await DashboardProcess.start(await dirs.make("cairn-dashboard-find-"), "studio")
    ids = await dashboard.call<string[]>("bulk", { count: COUNT, needle: NEEDLE })
    ;({ browser, page, problems } = await openDashboard(`${dashboard.url}#/task`))
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await dashboard?.stop()
    await dirs.cleanup()
  })

  const heading = () => page.locator("#documents-heading")
  const rows = () => page.locator("#documents button.doc")
  const place = () => page.locator(".pager .page-place")

  it("lists one page of the 10,000 and finds the one task by a word of its title", async () => {
    await heading()
      .filter({ hasText: `task · ${COUNT}` })
      .waitFor({ timeout: 30_000 })
    expect(await rows().count()).toBe(100)
    expect(await place().textContent()).toBe(`1–100 of ${COUNT}`)

    await page.getByRole("searchbox", { name: "search documents" }).fill("PASSPORT")
    await heading().filter({ hasText: "task · 1" }).waitFor()
    await page.locator("#documents button.doc .doc-summary", { hasText: NEEDLE.title }).waitFor()
    expect(await rows().count()).toBe(1)
    expect(await rows().first().getAttribute("data-id")).toBe(ids[NEEDLE.at])
    await screenshot(page, "search")
    await rows().first().click()
    await page.locator('.field[data-path="title"] input').waitFor()
    expect(await page.locator('.field[data-path="title"] input').inputValue()).toBe(NEEDLE.title)

    await page.getByRole("searchbox", { name: "search documents" }).fill("no such words")
    await page.locator("#documents .empty", { hasText: "No task document matches." }).waitFor()
    await page.getByRole("searchbox", { name: "search documents" }).fill("")
    await heading()
      .filter({ hasText: `task · ${COUNT}` })
      .waitFor()
  })

  it("filters by a field, sorts by a column both ways, and pages to the last page", async () => {
    const done = Math.ceil(COUNT / 3)
    await page.getByRole("combobox", { name: "filter field" }).fill("done")
    await page.getByRole("combobox", { name: "filter operator" }).selectOption("=")
    await page.getByRole("textbox", { name: "filter value" }).fill("true")
    await page.getByRole("button", { name: "Filter", exact: true }).click()
    await heading()
      .filter({ hasText: `task · ${done}` })
      .waitFor()
    expect(await page.locator(".filter-chips .chip").textContent()).toContain("done = true")
    const doneCells = await page.locator('#documents .cell[data-column="done"]').allTextContents()
    expect(doneCells).toHaveLength(100)
    expect(new Set(doneCells)).toEqual(new Set(["done: true"]))

    const votesHeader = page.locator('button.sort[data-sort="votes"]')
    await votesHeader.click()
    await page.locator('button.sort[data-sort="votes"][aria-sort="ascending"]').waitFor()
    await page.locator("#documents button.doc").first().locator('.cell[data-column="votes"]', { hasText: "votes: 0" }).waitFor()
    await votesHeader.click()
    await page.locator('button.sort[data-sort="votes"][aria-sort="descending"]').waitFor()
    await page.locator("#documents button.doc").first().locator('.cell[data-column="votes"]', { hasText: "votes: 9" }).waitFor()
    const votes = (await page.locator('#documents .cell[data-column="votes"]').allTextContents()).map(t => Number(t.split(": ")[1]))
    expect(votes).toEqual([...votes].sort((a, b) => b - a))

    await page.getByRole("button", { name: "last page" }).click()
    const lastStart = Math.floor((done - 1) / 100) * 100
    await place()
      .filter({ hasText: `${lastStart + 1}–${done} of ${done}` })
      .waitFor()
    expect(await rows().count()).toBe(done - lastStart)
    expect(await page.getByRole("button", { name: "next page" }).isDisabled()).toBe(true)
    // The last page holds the smallest vote counts, sorted down; ties in id order.
    const lastVotes = (await page.locator('#documents .cell[data-column="votes"]').allTextContents()).map(t => Number(t.split(": ")[1]))
    expect(lastVotes.every(v => v === 0)).toBe(true)
    const lastIds = await rows().evaluateAll(buttons => buttons.map(b => b.getAttribute("data-id")!))
    expect(lastIds).toEqual([...lastIds].sort())
    await screenshot(page, "filter-sort-page")

    await page.getByRole("button", { name: "remove filter done" }).click()
    await heading()
      .filter({ hasText: `task · ${COUNT}` })
      .waitFor()
    await place()
      .filter({ hasText: `1–100 of ${COUNT}` })
      .waitFor()
    expect(problems).toEqual([])
  })
})
