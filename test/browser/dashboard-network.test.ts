/**
 * The live network in the dashboard, in real Chromium, with three machines
 * in three processes: phone → relay ← studio (the dashboard's peer). The
 * studio is connected to the relay only, yet its graph shows the phone
 * behind the relay, with the phone's presence state and the transport and
 * types of its link; the state updates live, and the phone drops out once
 * it is killed and its state expires.
 */
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chromiumAvailable } from "../helpers/browser.js"
import { DashboardProcess, openDashboard, screenshot } from "../helpers/DashboardProcess.js"
import { PeerProcess, TempDirs } from "../helpers/PeerProcess.js"

/** Short presence heartbeats, so a silent machine expires in under two seconds. */
const HEARTBEAT_MS = 500

describe.skipIf(!chromiumAvailable())("dashboard: the network its presence can see", () => {
  const dirs = new TempDirs()
  let dashboard: DashboardProcess
  let relay: PeerProcess
  let phone: PeerProcess
  let browser: { context: BrowserContext; close: () => Promise<void> }
  let page: Page
  let problems: string[]
  let relayUrl: string

  beforeAll(async () => {
    dashboard = await DashboardProcess.start(await dirs.make("cairn-dashboard-net-"), "studio", { heartbeatMs: HEARTBEAT_MS })
    relay = await PeerProcess.start({ dir: await dirs.make("cairn-relay-"), relay: true, name: "relay", presenceMs: HEARTBEAT_MS })
    phone = await PeerProcess.start({ dir: await dirs.make("cairn-phone-"), name: "phone", wants: "note", presenceMs: HEARTBEAT_MS })
    // Listening here, not in a test: a retried test must not ask the relay to listen twice.
    ;({ url: relayUrl } = await relay.call<{ url: string }>("listen", { port: 0 }))
    ;({ browser, page, problems } = await openDashboard(dashboard.url))
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await Promise.all([phone?.kill(), relay?.kill()])
    await dashboard?.stop()
    await dirs.cleanup()
  })

  it("shows the phone behind the relay, with its state and its link's transport and types, live", async () => {
    const [{ machineId: relayId }, { machineId: phoneId }] = await Promise.all([relay.call("info"), phone.call("info")])
    await phone.call("setPresence", { state: { status: "on the train", battery: 71 } })
    await phone.call("connect", { url: relayUrl })
    await dashboard.call("connect", { url: relayUrl })

    const phoneNode = page.locator(`svg .node.peer.behind[data-machine="${phoneId}"]`)
    await phoneNode.waitFor({ timeout: 15_000 })
    // Drawn linked to the relay, not to this machine; the studio has no connection to the phone.
    const phoneEdge = page.locator(`svg line.edge[data-from="${relayId}"][data-to="${phoneId}"]`)
    // A line straight across has no height, which Playwright counts as hidden: it need only be there.
    await phoneEdge.waitFor({ state: "attached" })
    expect(await phoneEdge.getAttribute("data-transport")).toBe("ws")
    expect(await page.locator(`svg line.edge[data-to="${relayId}"]:not([data-from])`).getAttribute("data-transport")).toBe("ws")
    expect(await page.locator(`svg .node.peer:not(.behind)[data-machine="${relayId}"]`).count()).toBe(1)
    const text = (await phoneNode.textContent()) ?? ""
    expect(text).toContain("phone")
    expect(text).toContain("on the train · battery: 71")
    expect(text).toMatch(/linked · WebSocket/)
    expect(text).toMatch(/heard (just now|\d+ s ago)/)
    // The phone syncs notes with the relay: the link's label says so, once the relay's presence names the link's types
    // (it may be drawn a heartbeat before that).
    await expect.poll(() => page.locator("svg .edge-label").allTextContents(), { timeout: 10_000 }).toContain("note")
    const row = page.locator(`.peer-table tr.behind[data-machine="${phoneId}"]`)
    await expect
      .poll(async () => (await row.textContent()) ?? "", { timeout: 10_000 })
      .toMatch(/phone.*on the train.*via relay · WebSocket.*note/)
    expect(await dashboard.call("peers")).toHaveLength(1)

    await phone.call("setPresence", { state: { status: "at home" } })
    await phoneNode.filter({ hasText: "at home" }).waitFor()
    await screenshot(page, "network-presence")
  })

  it("drops the phone once it is killed and its state expires, keeping the relay", async () => {
    const [{ machineId: relayId }, { machineId: phoneId }] = await Promise.all([relay.call("info"), phone.call("info")])
    await phone.kill()
    await page.locator(`svg .node.peer[data-machine="${phoneId}"]`).waitFor({ state: "detached", timeout: 15_000 })
    expect(await page.locator(`.peer-table tr[data-machine="${phoneId}"]`).count()).toBe(0)
    expect(await page.locator(`svg .node.peer.state-in-sync[data-machine="${relayId}"]`).count()).toBe(1)
    expect(problems).toEqual([])
  })
})
