/**
 * History a person can read, in real Chromium: a task with three changes by
 * two machines (made in the dashboard peer's process, on a laptop peer in
 * another process, and in the page), each shown with its machine, message
 * and field-level diff; the task opened as it was at an older change,
 * read-only; and one field restored from it as a new change that reaches
 * the laptop.
 */
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chromiumAvailable, launchContext } from "../helpers/browser.js"
import { DashboardProcess, screenshot, watchForProblems } from "../helpers/DashboardProcess.js"
import { PeerProcess, TempDirs, eventually } from "../helpers/PeerProcess.js"

describe.skipIf(!chromiumAvailable())("dashboard: history with diffs, time travel and restore", () => {
  const dirs = new TempDirs()
  let dashboard: DashboardProcess
  let laptop: PeerProcess
  let browser: { context: BrowserContext; close: () => Promise<void> }
  let page: Page
  let problems: string[]
  let id: string

  beforeAll(async () => {
    dashboard = await DashboardProcess.start(await dirs.make("cairn-dashboard-history-"), "studio")
    laptop = await PeerProcess.start({ dir: await dirs.make("cairn-laptop-"), name: "laptop" })
    browser = await launchContext()
    page = await browser.context.newPage()
    await page.setViewportSize({ width: 1400, height: 1100 })
    problems = watchForProblems(page)
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await laptop?.kill()
    await dashboard?.stop()
    await dirs.cleanup()
  })

  it("shows each change with its machine, message and what it changed", async () => {
    id = await dashboard.call("create", {
      type: "task",
      data: { title: "Plan the trip", notes: "Train to Bergen", votes: 1 },
      message: "planned in the studio",
    })
    await laptop.call("connect", { url: dashboard.ws })
    await eventually(async () => (await laptop.call("entry", { id })) !== null)
    await laptop.call("change", {
      type: "task",
      id,
      ops: [
        { op: "set", path: ["title"], value: "Plan the trip to Bergen" },
        { op: "incr", path: ["votes"], by: 2 },
      ],
      message: "retitled on the laptop, two votes",
    })
    await eventually(async () => (await dashboard.call("get", { id })).data.title === "Plan the trip to Bergen")

    await page.goto(`${dashboard.url}#/task/${id}`)
    await page.locator('#live[data-state="live"]').waitFor()
    const notes = page.locator('.field[data-path="notes"] textarea')
    await notes.fill("Night train to Bergen")
    await page.getByRole("button", { name: "Save text" }).click()

    const changes = page.locator(".history > li")
    await changes.first().locator(".history-message", { hasText: "dashboard: settext notes" }).waitFor()
    expect(await changes.count()).toBe(3)
    expect(await changes.locator(".history-message").allTextContents()).toEqual([
      "dashboard: settext notes",
      "retitled on the laptop, two votes",
      "planned in the studio",
    ])
    const [newest, byLaptop, first] = [changes.nth(0), changes.nth(1), changes.nth(2)]
    expect(await newest.locator(".history-meta").textContent()).toContain("this machine")
    expect(await byLaptop.locator(".history-meta .machine-name").textContent()).toBe("laptop")
    // The text edit as the span it changed; the laptop's change as a register before → after and a counter's +2.
    expect(await newest.locator('.diff li[data-path="notes"] del').textContent()).toBe("T")
    expect(await newest.locator('.diff li[data-path="notes"] ins').textContent()).toBe("Night t")
    expect(await byLaptop.locator('.diff li[data-path="title"]').textContent()).toContain('"Plan the trip" → "Plan the trip to Bergen"')
    expect(await byLaptop.locator('.diff li[data-path="votes"] ins').textContent()).toBe("+2")
    expect(await byLaptop.locator(".diff li").count()).toBe(2)
    expect(await first.locator('.diff li[data-path="title"]').textContent()).toContain("added")
    await screenshot(page, "history")
  })

  it("opens the task as it was at an older change, read-only, and goes back to now", async () => {
    const byLaptop = page.locator(".history > li").nth(1)
    await byLaptop.getByRole("button", { name: /^view as of/ }).click()
    const banner = page.locator(".as-of[role=status]")
    await banner.waitFor()
    expect(await banner.textContent()).toMatch(/As of .*retitled on the laptop, two votes.*laptop.*read-only/)
    const title = page.locator('.field[data-path="title"] input')
    expect(await title.inputValue()).toBe("Plan the trip to Bergen")
    expect(await title.isDisabled()).toBe(true)
    expect(await page.locator('.field[data-path="notes"] textarea').inputValue()).toBe("Train to Bergen")
    expect(await page.locator('.field[data-path="votes"] output').textContent()).toBe("3")
    await screenshot(page, "time-travel")
    await page.getByRole("button", { name: "Back to now" }).click()
    await banner.waitFor({ state: "detached" })
    expect(await page.locator('.field[data-path="notes"] textarea').inputValue()).toBe("Night train to Bergen")
  })

  it("restores one field from the first version as a new change, which reaches the laptop", async () => {
    const [created] = await dashboard.call<{ hash: string }[]>("history", { id })
    await page
      .locator(".history > li")
      .nth(2)
      .getByRole("button", { name: /^view as of/ })
      .click()
    await page.locator(".as-of[role=status]").waitFor()
    expect(await page.locator('.field[data-path="title"] input').inputValue()).toBe("Plan the trip")
    await page.getByRole("button", { name: "restore notes" }).click()
    await page.locator(".as-of").waitFor({ state: "detached" })
    const message = `restored notes from ${created!.hash.slice(0, 8)}`
    await page.locator(".history > li").first().locator(".history-message", { hasText: message }).waitFor()
    expect(await page.locator('.field[data-path="notes"] textarea').inputValue()).toBe("Train to Bergen")
    // Only the one field: the title and votes stay as they are now.
    expect(await page.locator('.field[data-path="title"] input').inputValue()).toBe("Plan the trip to Bergen")
    const doc = await dashboard.call("get", { id })
    expect(doc.data).toMatchObject({ title: "Plan the trip to Bergen", notes: "Train to Bergen", votes: 3 })
    await eventually(async () => (await laptop.call("get", { id })).data.notes === "Train to Bergen")
    expect(await page.locator(".history > li").count()).toBe(4)
    expect(problems).toEqual([])
  })
})
