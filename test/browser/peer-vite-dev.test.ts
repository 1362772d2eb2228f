/**
 * The one line of Vite setup packages/web/README.md asks for: under the dev
 * server (not `vite build`), Automerge must stay out of dependency
 * pre-bundling so its WASM loads. This runs the test app that way.
 */
import { fileURLToPath } from "node:url"
import { createServer, type ViteDevServer } from "vite"
import { afterAll, describe, expect, it } from "vitest"
import { chromiumAvailable, launchContext } from "../helpers/browser.js"

const APP = fileURLToPath(new URL("./app", import.meta.url))

describe.skipIf(!chromiumAvailable())("browser peer under the Vite dev server (Chromium)", () => {
  let server: ViteDevServer | undefined
  let browser: { close: () => Promise<void> } | undefined

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it("opens a database with optimizeDeps.exclude: ['@automerge/automerge']", async () => {
    server = await createServer({
      root: APP,
      configFile: false,
      logLevel: "error",
      server: { host: "127.0.0.1", port: 0, strictPort: false, hmr: false },
      optimizeDeps: { exclude: ["@automerge/automerge"] },
    })
    await server.listen()
    const launched = await launchContext()
    browser = launched
    const page = await launched.context.newPage()
    await page.goto(`${server.resolvedUrls!.local[0]}?name=dev-server`)
    await page.waitForFunction(() => window.appReady || window.appError, undefined, { timeout: 30_000 })
    expect(await page.evaluate(() => window.appError)).toBeUndefined()
    const id = await page.evaluate(() => window.app.create!("task", { title: "from the dev server" }) as Promise<string>)
    await page.locator(`[data-id="${id}"]`).waitFor({ timeout: 5_000 })
  })
})
