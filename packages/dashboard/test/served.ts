/**
 * A peer with the dashboard on a real http server on 127.0.0.1, as `cairn
 * serve` runs it, for the API tests; everything made is closed and removed
 * after each test.
 */
import { createServer } from "node:http"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach } from "vitest"
import type { TypeDefinition } from "@cairn/core"
import { NodePeer } from "@cairn/node"
import { DashboardServer, type DashboardOptions } from "../src/index.js"

export const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

export async function tempDir(prefix = "cairn-dashboard-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A peer with the dashboard on a real http server on 127.0.0.1, as `cairn serve` runs it. */
export async function served(options: DashboardOptions = {}, types: TypeDefinition<any>[] = []) {
  const peer = await NodePeer.open({ dir: await tempDir(), types })
  const dashboard = new DashboardServer(peer, { log: () => {}, ...options })
  const server = createServer(dashboard.handle)
  const address = await peer.listen({ port: 0, server })
  cleanup.push(async () => {
    dashboard.close()
    await peer.close()
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  const base = `http://127.0.0.1:${address.port}`
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers } }
    if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body)
    const response = await fetch(base + path, init)
    const text = await response.text()
    let json: any
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.status, json, text, headers: response.headers }
  }
  return { peer, dashboard, server, base, address, call }
}

/** Read `GET /api/events` until a pattern shows up in what has arrived (10 s at most); the stream ends with the test. */
export async function eventsOf(base: string): Promise<{ response: Response; until: (pattern: RegExp) => Promise<void> }> {
  const controller = new AbortController()
  cleanup.push(() => controller.abort())
  const response = await fetch(`${base}/api/events`, { signal: controller.signal })
  const reader = response.body!.getReader()
  let received = ""
  const until = async (pattern: RegExp) => {
    const deadline = Date.now() + 10_000
    while (!pattern.test(received)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in ${received}`)
      const { value, done } = await reader.read()
      if (done) throw new Error(`stream ended: ${received}`)
      received += new TextDecoder().decode(value)
    }
  }
  return { response, until }
}
