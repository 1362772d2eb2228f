/**
 * The dashboard's Chromium tests share these: the dashboard peer in its own
 * process (test/fixtures/dashboard-peer.mjs, as `cairn serve` runs it) with
 * JSON-line commands to its database, screenshots for a reviewer (in
 * test/artifacts/screenshots/, or docs/screenshots/ for the README with
 * CAIRN_UPDATE_SCREENSHOTS=1), and the problems a page reports.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process"
import { mkdir } from "node:fs/promises"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import type { BrowserContext, Page } from "playwright-core"
import { launchContext } from "./browser.js"

const FIXTURE = fileURLToPath(new URL("../fixtures/dashboard-peer.mjs", import.meta.url))
const SCREENSHOTS = fileURLToPath(
  new URL(process.env.CAIRN_UPDATE_SCREENSHOTS === "1" ? "../../docs/screenshots/" : "../artifacts/screenshots/", import.meta.url),
)

/** The dashboard peer's process: its URL, and JSON-line commands to its database. */
export class DashboardProcess {
  #next = 0
  #pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>()
  readonly stderr: string[] = []

  private constructor(
    readonly child: ChildProcessWithoutNullStreams,
    readonly url: string,
    readonly ws: string,
    readonly machineId: string,
  ) {}

  /** With `heartbeatMs`, presence publishes that often and forgets a machine silent for three of them; `relay`: no app code. */
  static async start(dir: string, name: string, options: { heartbeatMs?: number; relay?: boolean } = {}): Promise<DashboardProcess> {
    const args = [
      FIXTURE,
      `--dir=${dir}`,
      `--name=${name}`,
      ...(options.heartbeatMs ? [`--heartbeat=${options.heartbeatMs}`] : []),
      ...(options.relay ? ["--relay"] : []),
    ]
    const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] })
    const stderr: string[] = []
    child.stderr.on("data", chunk => stderr.push(String(chunk)))
    const lines = createInterface({ input: child.stdout })
    const ready = await new Promise<{ url: string; ws: string; machineId: string }>((resolve, reject) => {
      lines.once("line", line => resolve(JSON.parse(line)))
      child.once("exit", code => reject(new Error(`dashboard peer exited with ${code}\n${stderr.join("")}`)))
    })
    const peer = new DashboardProcess(child, ready.url, ready.ws, ready.machineId)
    peer.stderr.push(...stderr)
    child.stderr.on("data", chunk => peer.stderr.push(String(chunk)))
    lines.on("line", line => {
      const message = JSON.parse(line)
      const pending = peer.#pending.get(message.id)
      peer.#pending.delete(message.id)
      if (message.ok) pending?.resolve(message.result)
      else pending?.reject(new Error(message.error))
    })
    return peer
  }

  call<T = any>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.child.stdin.write(JSON.stringify({ id, cmd, args }) + "\n")
    })
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise(resolve => this.child.once("exit", resolve))
    this.child.stdin.end()
    await exited
  }
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: `${SCREENSHOTS}dashboard-${name}.png`, fullPage })
}

/** Problems the page reported (script errors, refused by the Content-Security-Policy, failed requests). */
export function watchForProblems(page: Page): string[] {
  const problems: string[] = []
  page.on("pageerror", error => problems.push(`page error: ${error.message}`))
  page.on("console", message => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`)
  })
  return problems
}

/** Chromium on the dashboard at `url` (1400 px wide), live, with the problems its page reports. */
export async function openDashboard(
  url: string,
  height = 1000,
): Promise<{ browser: { context: BrowserContext; close: () => Promise<void> }; page: Page; problems: string[] }> {
  const browser = await launchContext()
  const page = await browser.context.newPage()
  await page.setViewportSize({ width: 1400, height })
  const problems = watchForProblems(page)
  await page.goto(url)
  await page.locator('#live[data-state="live"]').waitFor()
  return { browser, page, problems }
}
