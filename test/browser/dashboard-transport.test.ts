/**
 * The dashboard's network picture says which transport each link uses:
 * `cairn serve --tcp 0` with one peer dialled in over TCP and one over
 * WebSocket, each in its own process, seen in real Chromium.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { chromiumAvailable, launchContext } from "../helpers/browser.js"
import { PeerProcess, TempDirs } from "../helpers/PeerProcess.js"

const CLI = fileURLToPath(new URL("../../packages/cli/bin/cairn.js", import.meta.url))

describe.skipIf(!chromiumAvailable())("dashboard links in Chromium", () => {
  const dirs = new TempDirs()
  const peers: PeerProcess[] = []
  let serve: ChildProcess | undefined
  let browser: Awaited<ReturnType<typeof launchContext>> | undefined

  afterAll(async () => {
    await browser?.close()
    await Promise.all(peers.map(peer => peer.kill()))
    if (serve && serve.exitCode === null) {
      const exited = new Promise(resolve => serve!.once("exit", resolve))
      serve.kill("SIGTERM")
      await exited
    }
    await dirs.cleanup()
  })

  it("shows a peer on TCP and a peer on WebSocket, each with its transport, in the graph and the table", async () => {
    serve = spawn(process.execPath, [CLI, "serve", "--open", "--data", await dirs.make("cairn-hub-"), "--port", "0", "--tcp", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    })
    const urls = await new Promise<string[]>((resolve, reject) => {
      const seen: string[] = []
      createInterface({ input: serve!.stdout! }).on("line", line => {
        if (line.startsWith("listening on ")) seen.push(line.slice("listening on ".length))
        if (line.startsWith("dashboard on")) resolve(seen)
      })
      serve!.once("exit", code => reject(new Error(`cairn serve exited with ${code}`)))
    })
    const [wsUrl, tcpUrl] = urls as [string, string]
    expect(tcpUrl).toMatch(/^tcp:\/\//)
    const overTcp = await PeerProcess.start({ dir: await dirs.make("cairn-nas-") })
    const overWs = await PeerProcess.start({ dir: await dirs.make("cairn-laptop-") })
    peers.push(overTcp, overWs)
    const [{ machineId: tcpId }, { machineId: wsId }] = await Promise.all([overTcp.call("info"), overWs.call("info")])
    await overTcp.call("connect", { url: tcpUrl })
    await overWs.call("connect", { url: wsUrl })

    browser = await launchContext()
    const page = await browser.context.newPage()
    await page.setViewportSize({ width: 1400, height: 1000 })
    await page.goto(wsUrl.replace(/^ws/, "http"))
    await page.locator(`svg .node.peer[data-machine="${tcpId}"][data-transport="tcp"]`).waitFor()
    await page.locator(`svg .node.peer[data-machine="${wsId}"][data-transport="ws"]`).waitFor()
    expect(await page.locator(`svg .node.peer[data-machine="${tcpId}"]`).textContent()).toMatch(/· TCP/)
    expect(await page.locator(`svg .node.peer[data-machine="${wsId}"]`).textContent()).toMatch(/· WebSocket/)
    expect(await page.locator(`.peer-table tr[data-machine="${tcpId}"] td.transport`).textContent()).toBe("TCP")
    expect(await page.locator(`.peer-table tr[data-machine="${wsId}"] td.transport`).textContent()).toBe("WebSocket")
  })
})
