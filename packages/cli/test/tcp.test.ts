/**
 * `cairn serve --tcp`, `cairn sync tcp://…` and `--connect tcp://…` as a
 * user runs them, each command its own process; and tcps:// when the
 * server has a certificate.
 */
import { spawn } from "node:child_process"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { afterAll, describe, expect, it } from "vitest"
import { selfSignedCertificate } from "../../node/test/helpers/certificate.js"
import { BIN, cairn, Dirs, json } from "./helpers.js"

const dirs = new Dirs()
const stops: (() => Promise<void>)[] = []
afterAll(async () => {
  await Promise.all(stops.map(stop => stop()))
  await dirs.cleanup()
}, 30_000)

/** `cairn serve --port 0 --tcp 0 ...`; resolves with the URLs it printed once its dashboard line is out. */
async function serveTcp(dir: string, options: string[] = ["--open"]) {
  const child = spawn(process.execPath, [BIN, "--data", dir, "serve", ...options, "--port", "0", "--tcp", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  })
  const stderr: string[] = []
  child.stderr!.on("data", chunk => stderr.push(String(chunk)))
  const lines = await new Promise<string[]>((resolve, reject) => {
    const seen: string[] = []
    createInterface({ input: child.stdout! }).on("line", line => {
      seen.push(line)
      if (line.startsWith("dashboard on")) resolve(seen)
    })
    child.once("exit", code => reject(new Error(`serve exited with ${code}: ${stderr.join("")}`)))
  })
  const stop = async () => {
    if (child.exitCode !== null) return
    child.kill("SIGTERM")
    await new Promise(resolve => child.once("exit", resolve))
  }
  stops.push(stop)
  const urls = lines.filter(line => line.startsWith("listening on ")).map(line => line.slice("listening on ".length))
  return { lines, urls, stderr, stop }
}

describe("cairn over TCP", () => {
  it("serve --tcp 0 prints its tcp:// URL after the WebSocket one; sync tcp://… once brings the documents both ways", async () => {
    const serverDir = await dirs.make()
    const task = (await cairn(["--data", serverDir, "create", "task", '{"title": "served over TCP"}'])).stdout.trim()
    const server = await serveTcp(serverDir)
    expect(server.urls).toEqual([expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+$/), expect.stringMatching(/^tcp:\/\/127\.0\.0\.1:\d+$/)])
    const tcpUrl = server.urls[1]!

    const client = ["--data", await dirs.make()]
    const note = (await cairn([...client, "create", "note", '{"body": "from the client"}'])).stdout.trim()
    expect(await json([...client, "sync", tcpUrl])).toMatchObject({ received: 1, quarantined: [], denied: [] })
    expect((await json([...client, "get", task])).data.title).toBe("served over TCP")
    expect((await json(["--data", serverDir, "get", note])).data.body).toBe("from the client")

    const nobody = await cairn([...client, "sync", "tcp://127.0.0.1:1", "--timeout", "5"])
    expect(nobody.code).not.toBe(0)
    expect(nobody.stderr).toMatch(/cannot connect to tcp:\/\/127\.0\.0\.1:1/)
    const portless = await cairn([...client, "sync", "tcp://127.0.0.1"])
    expect(portless.code).toBe(2)
    expect(portless.stderr).toMatch(/names no port/)
  })

  it("serve --connect tcp://… keeps a second peer in sync over TCP", async () => {
    const hubDir = await dirs.make()
    const hub = await serveTcp(hubDir)
    const spokeDir = await dirs.make()
    await serveTcp(spokeDir, ["--open", "--connect", hub.urls[1]!])
    const task = (await cairn(["--data", hubDir, "create", "task", '{"title": "pushed over TCP"}'])).stdout.trim()
    const deadline = Date.now() + 15_000
    let title: string | undefined
    while (Date.now() < deadline && title === undefined) {
      const got = await cairn(["--data", spokeDir, "get", task, "--json"])
      if (got.code === 0) title = JSON.parse(got.stdout).data.title
      else await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(title).toBe("pushed over TCP")
    const refused = await cairn(["--data", await dirs.make(), "serve", "--open", "--port", "0", "--connect", "udp://127.0.0.1:9"])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/use ws:\/\/, wss:\/\/, tcp:\/\/ or tcps:\/\//)
  })

  it("with a certificate, serve --tcp listens on tcps://, which a client reaches only when it trusts the certificate", async () => {
    const certificate = await selfSignedCertificate()
    const certDir = await dirs.make()
    const cert = join(certDir, "cert.pem")
    const key = join(certDir, "key.pem")
    await writeFile(cert, certificate.cert)
    await writeFile(key, certificate.key)
    const serverDir = await dirs.make()
    const task = (await cairn(["--data", serverDir, "create", "task", '{"title": "over TLS"}'])).stdout.trim()
    const server = await serveTcp(serverDir, ["--open", "--tls-cert", cert, "--tls-key", key])
    const tcpsUrl = server.urls.find(url => url.startsWith("tcps://"))
    expect(tcpsUrl).toMatch(/^tcps:\/\/127\.0\.0\.1:\d+$/)

    const client = ["--data", await dirs.make()]
    const unverified = await cairn([...client, "sync", tcpsUrl!, "--timeout", "5"])
    expect(unverified.code).not.toBe(0)
    expect((await cairn([...client, "get", task])).code).not.toBe(0)

    const verified = await cairn([...client, "sync", tcpsUrl!, "--json"], { env: { NODE_EXTRA_CA_CERTS: cert } })
    expect(verified.code).toBe(0)
    expect((await json([...client, "get", task])).data.title).toBe("over TLS")
  })
})
