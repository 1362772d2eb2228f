/**
 * @cairn/web end to end, in real Chromium: a test app (test/browser/app)
 * bundled with Vite's defaults, served from 127.0.0.1, talking to a node
 * peer in its own process.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import type { BrowserContext, Page } from "playwright-core"
import { build } from "vite"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chromiumAvailable, launchContext, servePage } from "../helpers/browser.js"
import { eventually, PeerProcess, TempDirs } from "../helpers/PeerProcess.js"

const APP = fileURLToPath(new URL("./app", import.meta.url))

describe.skipIf(!chromiumAvailable())("browser peer (Chromium)", () => {
  const temp = new TempDirs()
  const contexts: { close: () => Promise<void> }[] = []
  let http: Awaited<ReturnType<typeof servePage>>
  let origin: string
  let nodeDir: string
  let node: PeerProcess
  let wsUrl: string
  let wsPort: number

  beforeAll(async () => {
    const outDir = await temp.make("cairn-web-app-")
    // Vite's defaults and nothing else: what an app gets without any setup for Cairn or Automerge's WASM.
    // (Vitest sets NODE_ENV=test, which would make Vite bundle React's development build.)
    const nodeEnv = process.env.NODE_ENV
    process.env.NODE_ENV = "production"
    try {
      await build({ root: APP, configFile: false, logLevel: "error", build: { outDir, emptyOutDir: true } })
    } finally {
      process.env.NODE_ENV = nodeEnv
    }
    http = await servePage(outDir)
    origin = http.origin
    nodeDir = await temp.make("cairn-web-node-")
    node = await PeerProcess.start({ dir: nodeDir, publish: true })
    ;({ url: wsUrl, port: wsPort } = await node.call("listen"))
  })

  afterAll(async () => {
    for (const context of contexts) await context.close()
    await node?.stop()
    http?.close()
    await temp.cleanup()
  })

  async function browser(): Promise<BrowserContext> {
    const launched = await launchContext()
    contexts.push(launched)
    return launched.context
  }

  async function openApp(context: BrowserContext, query: Record<string, string>, page?: Page): Promise<Page> {
    page ??= await context.newPage()
    page.on("pageerror", error => console.error(`[page error] ${error.message}`))
    if (process.env.CAIRN_TEST_VERBOSE) page.on("console", message => console.log(`[page ${query.name}] ${message.text()}`))
    await page.goto(`${origin}/?${new URLSearchParams(query)}`)
    await waitForApp(page)
    return page
  }

  async function waitForApp(page: Page): Promise<void> {
    await page.waitForFunction(() => window.appReady || window.appError, undefined, { timeout: 15_000 })
    const error = await page.evaluate(() => window.appError)
    if (error) throw new Error(`the app failed to open: ${error}`)
  }

  const call = <T = any>(page: Page, method: string, ...args: unknown[]): Promise<T> =>
    page.evaluate(({ method, args }) => window.app[method]!(...args), { method, args }) as Promise<T>

  const role = (page: Page) => call<{ role: string }>(page, "status").then(status => status.role)

  it("a change in one browser reaches another browser through the node peer", async () => {
    const [a, b] = await Promise.all([browser(), browser()])
    const [pageA, pageB] = await Promise.all([openApp(a, { name: "two", url: wsUrl }), openApp(b, { name: "two", url: wsUrl })])
    expect(await call(pageA, "machineId")).not.toBe(await call(pageB, "machineId"))

    const id = await call<string>(pageA, "create", "task", { title: "written in A" })
    // B shows it in its React list (useQuery), without a reload.
    await pageB.locator(`[data-id="${id}"]`).filter({ hasText: "written in A" }).waitFor({ timeout: 10_000 })
    expect((await node.call("get", { id })).data.title).toBe("written in A")

    await call(pageA, "select", id)
    await pageA.locator("#selected").filter({ hasText: "written in A" }).waitFor({ timeout: 5_000 })
    await call(pageB, "setTitle", id, "edited in B")
    // A's list (useQuery) and its view of the one document (useDocument) both follow.
    await pageA.locator(`[data-id="${id}"]`).filter({ hasText: "edited in B" }).waitFor({ timeout: 10_000 })
    await pageA.locator("#selected").filter({ hasText: "edited in B" }).waitFor({ timeout: 10_000 })
    await pageA.locator("#status").filter({ hasText: "leader connected synced" }).waitFor({ timeout: 10_000 })
  })

  it("works offline: an edit survives a reload and reaches the node peer when it is back", async () => {
    const context = await browser()
    const page = await openApp(context, { name: "offline", url: wsUrl })
    await call(page, "whenSynced")

    await node.stop()
    await page.waitForFunction(() => (window.app.status!() as { connection: string }).connection !== "connected", undefined, {
      timeout: 10_000,
    })
    const id = await call<string>(page, "create", "task", { title: "made offline" })

    await page.reload()
    await waitForApp(page)
    // Read from IndexedDB (if the reloaded page briefly follows its own unloading predecessor, it leads a moment later).
    expect((await eventually(() => call(page, "get", id), 10_000))?.data.title).toBe("made offline")
    await page.locator(`[data-id="${id}"]`).waitFor({ timeout: 5_000 })

    node = await PeerProcess.start({ dir: nodeDir, publish: true })
    await node.call("listen", { port: wsPort })
    await call(page, "whenSynced", 15_000)
    expect((await eventually(() => node.call("get", { id }).catch(() => null))).data.title).toBe("made offline")
  })

  it("a browser that wants one type never receives another type's documents", async () => {
    const secretId = await node.call<string>("create", { type: "secret", data: { code: "never-in-the-browser-7f3a" } })
    const noteId = await node.call<string>("create", { type: "note", data: { body: "not wanted either" } })
    const taskId = await node.call<string>("create", { type: "task", data: { title: "wanted" } })

    const context = await browser()
    const page = await context.newPage()
    const received: Buffer[] = []
    page.on("websocket", socket => socket.on("framereceived", frame => received.push(Buffer.from(frame.payload))))
    await openApp(context, { name: "filtered", url: wsUrl, wants: "task" }, page)
    await call(page, "whenSynced")

    const catalog = await call<{ id: string; type: string; createdBy: string }[]>(page, "catalog")
    expect(catalog.map(entry => entry.id)).toContain(taskId)
    // What came from the node: tasks, and the node's definition of task (a type's schema goes where the type goes).
    const mine = await call<string>(page, "machineId")
    const fromNode = catalog.filter(entry => entry.createdBy !== mine)
    expect(new Set(fromNode.map(entry => entry.type))).toEqual(new Set(["task", "cairn.schema.task"]))
    expect(await call(page, "get", secretId)).toBeNull()

    // Nothing on the wire named the other documents, their definitions, or carried their content.
    const otherSchemas = [
      ...(await node.call<{ id: string }[]>("list", { type: "cairn.schema.secret" })),
      ...(await node.call<{ id: string }[]>("list", { type: "cairn.schema.note" })),
    ].map(doc => doc.id)
    // The node's own two, and those the apps of the other tests published through it.
    expect(otherSchemas.length).toBeGreaterThanOrEqual(2)
    const wire = Buffer.concat(received)
    expect(wire.length).toBeGreaterThan(0)
    expect(wire.includes(taskId)).toBe(true)
    for (const secret of [secretId, noteId, ...otherSchemas, "never-in-the-browser-7f3a", "not wanted either"])
      expect(wire.includes(secret)).toBe(false)
  })

  // CAIRN_BROWSER_PULL=100000 for the soak's run (test/reliability/soak.mjs).
  const pullCount = Number(process.env.CAIRN_BROWSER_PULL ?? 10_000)
  it(`a fresh page pulls ${pullCount.toLocaleString("en")} tasks from a node peer to the end, listing them as they come`, {
    timeout: Math.max(300_000, pullCount * 12),
  }, async () => {
    const count = pullCount
    const bulk = await PeerProcess.start({ dir: await temp.make("cairn-web-bulk-") })
    try {
      const { url } = await bulk.call("listen")
      const ids = await bulk.call<string[]>("seed", { type: "task", count, prefix: "bulk" })
      const context = await browser()
      const started = Date.now()
      // The test app lists every task (useQuery): a page that renders what it receives, as apps do.
      const page = await openApp(context, { name: "bulk", url, wants: "task" })
      let held = 0
      let movedAt = Date.now()
      while (held < count) {
        await sleep(500)
        const now = await page.evaluate(() => (window.app.catalog!() as unknown[]).length)
        if (now > held) [held, movedAt] = [now, Date.now()]
        // Every batch is acknowledged or retried (a stalled pull is asked again after 30 s): 60 s without one is a stall.
        if (Date.now() - movedAt > 60_000) throw new Error(`the page stopped at ${held} of ${count} tasks`)
      }
      console.log(`browser pulled ${count} tasks in ${Date.now() - started} ms`)
      await call(page, "whenSynced", 60_000)
      const catalog = new Set((await call<{ id: string }[]>(page, "catalog")).map(entry => entry.id))
      expect(ids.filter(id => !catalog.has(id))).toEqual([])
      // The list shows them all.
      await page.waitForFunction(n => document.querySelectorAll("#tasks [data-id]").length === n, count, { timeout: 30_000 })
    } finally {
      await bulk.stop()
    }
  })

  it("tabs of one app share one database live, without a server, and a follower takes over when the leader closes", async () => {
    const context = await browser()
    const first = await openApp(context, { name: "tabs" })
    const second = await openApp(context, { name: "tabs" })
    expect(await role(first)).toBe("leader")
    expect(await role(second)).toBe("follower")
    // One machine for the app in this browser, its private key a non-extractable CryptoKey in IndexedDB.
    const machineId = await call<string>(first, "machineId")
    expect(await call(second, "machineId")).toBe(machineId)
    const stored = await first.evaluate(
      () =>
        new Promise<{ type: string; extractable: boolean; algorithm: string }>((resolve, reject) => {
          const open = indexedDB.open("cairn-identity")
          open.onerror = () => reject(open.error)
          open.onsuccess = () => {
            const read = open.result.transaction("machines").objectStore("machines").get("tabs")
            read.onsuccess = () => {
              const key = read.result.keys.privateKey as CryptoKey
              resolve({ type: key.type, extractable: key.extractable, algorithm: key.algorithm.name })
            }
            read.onerror = () => reject(read.error)
          }
        }),
    )
    expect(stored).toEqual({ type: "private", extractable: false, algorithm: "Ed25519" })

    const fromFollower = await call<string>(second, "create", "task", { title: "from the follower tab" })
    await first.locator(`[data-id="${fromFollower}"]`).waitFor({ timeout: 5_000 })
    const fromLeader = await call<string>(first, "create", "task", { title: "from the leader tab" })
    await second.locator(`[data-id="${fromLeader}"]`).waitFor({ timeout: 5_000 })

    await first.close()
    await eventually(async () => (await role(second)) === "leader", 10_000)
    const afterTakeover = await call<string>(second, "create", "task", { title: "after the takeover" })
    // This page still reads and writes its in-memory copy, which reaches IndexedDB through its new leader half.
    await call(second, "whenSaved")

    await second.reload()
    await waitForApp(second)
    await eventually(async () => (await role(second)) === "leader", 10_000)
    for (const id of [fromFollower, fromLeader, afterTakeover]) await eventually(() => call(second, "get", id), 5_000)
    expect(await call(second, "machineId")).toBe(machineId)
  })

  it("follower tabs reach the server through the leader tab, and through the next leader when it closes", async () => {
    const context = await browser()
    const leader = await openApp(context, { name: "relay", url: wsUrl })
    const followers = [await openApp(context, { name: "relay", url: wsUrl }), await openApp(context, { name: "relay", url: wsUrl })]
    for (const page of followers) expect(await role(page)).toBe("follower")
    await Promise.all(followers.map(page => call(page, "whenSynced")))
    await eventually(async () => (await call<{ tabs: number }>(leader, "status")).tabs === 2, 5_000)

    const fromFollower = await call<string>(followers[0]!, "create", "task", { title: "follower to server" })
    await eventually(() => node.call("get", { id: fromFollower }).catch(() => null))
    const fromNode = await node.call<string>("create", { type: "task", data: { title: "server to follower" } })
    await followers[1]!.locator(`[data-id="${fromNode}"]`).waitFor({ timeout: 10_000 })

    await leader.close()
    const next = await eventually(async () => {
      const roles = await Promise.all(followers.map(role))
      return roles.filter(r => r === "leader").length === 1 && roles.includes("follower") ? followers[roles.indexOf("leader")]! : undefined
    }, 10_000)
    const other = followers.find(page => page !== next)!
    await Promise.all(followers.map(page => call(page, "whenSynced")))
    await eventually(async () => (await call<{ tabs: number }>(next!, "status")).tabs === 1, 5_000)
    expect((await call<{ connection: string }>(other, "status")).connection).toBe("connected")

    const afterTakeover = await node.call<string>("create", { type: "task", data: { title: "after the takeover" } })
    await Promise.all(followers.map(page => page.locator(`[data-id="${afterTakeover}"]`).waitFor({ timeout: 10_000 })))
    const fromOther = await call<string>(other, "create", "task", { title: "from the remaining follower" })
    await eventually(() => node.call("get", { id: fromOther }).catch(() => null))
  })
})
