/**
 * Real Chromium for end-to-end tests: Debian's `chromium` driven by
 * playwright-core (no browser download). Where chromium is missing the
 * tests skip with how to get it — except in CI (CI=true), where a missing
 * browser is a failure: `.ci/run` installs it.
 */
import { existsSync } from "node:fs"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { extname, join, normalize } from "node:path"
import { chromium, type BrowserContext } from "playwright-core"
import { build, defaultClientConditions } from "vite"

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

/** True when the browser tests can run here. Throws in CI when they cannot. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true
  if (process.env.CI) throw new Error(`Chromium is missing at ${CHROMIUM_PATH}; CI must install it (apt-get install -y chromium)`)
  console.warn(
    `skipping browser tests: no Chromium at ${CHROMIUM_PATH} (install it with: sudo apt-get install -y chromium, or set CHROMIUM_PATH)`,
  )
  return false
}

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
]

/** A persistent browser context with a fresh profile directory (its IndexedDB survives reloads, not the test). */
export async function launchContext(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), "cairn-chromium-"))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS })
  return {
    context,
    close: async () => {
      await context.close().catch(() => {})
      await rm(profile, { recursive: true, force: true })
    },
  }
}

/** Where tests keep screenshots for a reviewer to open (test/artifacts/, kept out of git). */
export const ARTIFACTS = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "artifacts")

const MIME: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" }

/** Serve a built page's directory on 127.0.0.1 (a free port); `origin` is where to point the browser. */
export async function servePage(directory: string): Promise<{ origin: string; close: () => void }> {
  const http = createServer(async (request, response) => {
    const path = normalize(join(directory, new URL(request.url ?? "/", "http://x").pathname.replace(/\/$/, "/index.html")))
    if (!path.startsWith(directory)) return void response.writeHead(403).end()
    try {
      const body = await readFile(path)
      response.writeHead(200, { "content-type": MIME[extname(path)] ?? "application/octet-stream" }).end(body)
    } catch {
      response.writeHead(404).end()
    }
  })
  await new Promise<void>(resolve => http.listen(0, "127.0.0.1", resolve))
  return { origin: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, close: () => http.close() }
}

/**
 * Bundle the page in `root` from the packages' sources (the "source"
 * condition, as the Node runs use), so it tests the code as it is now, into a
 * temporary folder; `dispose` deletes it.
 */
export async function buildPageFromSources(root: string): Promise<{ outDir: string; dispose: () => Promise<void> }> {
  const outDir = await mkdtemp(join(tmpdir(), "cairn-page-"))
  await build({
    root,
    configFile: false,
    logLevel: "error",
    resolve: { conditions: ["source", ...defaultClientConditions] },
    build: { outDir, emptyOutDir: true },
  })
  return { outDir, dispose: () => rm(outDir, { recursive: true, force: true }) }
}
