/**
 * Definitions as data in the dashboard, in real Chromium, with the machines
 * in their own processes: a relay with no app code shows a type's fields
 * from the definition the desk published when it opened (nobody ran
 * `cairn schema publish`), and its "New document" is a typed form of them
 * that applies their defaults and kinds. A peer whose definition of a type
 * cannot live beside the relay's is named in the network's mismatch view,
 * with the fields that differ.
 */
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chromiumAvailable } from "../helpers/browser.js"
import { DashboardProcess, openDashboard, screenshot } from "../helpers/DashboardProcess.js"
import { PeerProcess, TempDirs } from "../helpers/PeerProcess.js"

describe.skipIf(!chromiumAvailable())("dashboard: schemas synced from peers", () => {
  const dirs = new TempDirs()
  let relay: DashboardProcess
  let desk: PeerProcess
  let phone: PeerProcess | undefined
  let browser: { context: BrowserContext; close: () => Promise<void> }
  let page: Page
  let problems: string[]

  beforeAll(async () => {
    relay = await DashboardProcess.start(await dirs.make("cairn-dashboard-relay-"), "relay", { relay: true })
    // Version 2 of task with a lens from version 1 (test/fixtures/evolvingTypes.mjs): name, body (text), done, priority.
    desk = await PeerProcess.start({ dir: await dirs.make("cairn-desk-"), name: "desk", types: "task-v2-lens", publish: true })
    await desk.call("connect", { url: relay.ws })
    await desk.call("create", { type: "task", data: { name: "from the desk" } })
    await desk.call("synced")
    ;({ browser, page, problems } = await openDashboard(relay.url))
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await Promise.all([desk?.kill(), phone?.kill()])
    await relay?.stop()
    await dirs.cleanup()
  })

  it("shows a type's fields from the synced definition, and creates through a typed form with its defaults", async () => {
    await page.goto(`${relay.url}#/task`)
    const schema = page.locator('#type-schema details.schema[data-source="synced"][data-version="2"]')
    await schema.waitFor({ state: "attached", timeout: 15_000 })
    await schema.locator("summary").click()
    expect(await schema.locator("summary").textContent()).toMatch(/version 2 · 4 fields · synced from peers/)
    const row = (field: string) => schema.locator(`tr[data-field="${field}"]`)
    expect(await row("name").locator(".kind").textContent()).toBe("string register")
    expect(await row("name").locator(".default").textContent()).toBe("— (required)")
    expect(await row("body").locator(".kind").textContent()).toBe("text")
    expect(await row("done").locator(".default").textContent()).toBe("false")
    expect(await row("priority").locator(".default").textContent()).toBe("0")
    // The schema documents are the type's schema, not a type of their own; the type is marked as known by sync only.
    expect(await page.locator('#types [data-type^="cairn.schema."]').count()).toBe(0)
    expect(await page.locator('#types [data-type="task"] .badge.synced').count()).toBe(1)

    await page.locator("#new-document").click()
    const form = page.locator("#create-dialog form")
    await form.locator(".typed-fields").waitFor()
    expect(await form.locator('[name="field-priority"]').inputValue()).toBe("0")
    expect(await form.locator('[name="field-done"]').isChecked()).toBe(false)
    expect(await form.locator('[name="data"]').isVisible()).toBe(false)
    await form.locator('[name="field-name"]').fill("made on the relay")
    await form.locator('[name="field-body"]').fill("a note")
    await form.locator('[name="field-done"]').check()
    // Left empty, a field with a default is left out, and the server applies the definition's default.
    await form.locator('[name="field-priority"]').fill("")
    await screenshot(page, "typed-form-synced-schema")
    await form.locator('button[type="submit"]').click()
    await page.waitForFunction(() => /^#\/task\/.+/.test(location.hash))
    const id = decodeURIComponent(await page.evaluate(() => location.hash.split("/")[2]!))
    const made = await relay.call("get", { id })
    expect(made.data).toEqual({ name: "made on the relay", body: "a note", done: true, priority: 0 })
    // Made at the synced definition's version with its kinds, so the desk (version 2) reads it as its own.
    await desk.call("synced")
    await expect.poll(async () => (await desk.call("get", { id }).catch(() => null))?.data).toEqual(made.data)
    expect(problems).toEqual([])
  })

  it("names a peer whose definition cannot live beside this peer's in the mismatch view, with the fields that differ", async () => {
    // The relay now has app code for task at version 1; the phone runs version 3, which renames title without a lens.
    await relay.call("define", {
      definition: { name: "task", version: 1, fields: { title: { kind: "register", of: "string" } } },
    })
    phone = await PeerProcess.start({ dir: await dirs.make("cairn-phone-"), name: "phone", types: "task-v3" })
    await phone.call("connect", { url: relay.ws })
    const mismatch = page.locator('#mismatches li.mismatch[data-type="task"]')
    await mismatch.waitFor({ timeout: 15_000 })
    const text = (await mismatch.textContent()) ?? ""
    expect(text).toMatch(/phone defines task as version 3, this peer as version 1: needs a lens/)
    expect(text).toMatch(/title removed/)
    expect(text).toMatch(/name added/)
    await screenshot(page, "schema-mismatch")
  })
})
