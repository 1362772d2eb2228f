/**
 * LAN discovery between separate hosts: three `cairn serve --discover`
 * processes, each in a network namespace of its own on one bridged segment
 * (test/helpers/Lan.ts), find each other over multicast DNS. The two that
 * trust each other connect and sync by themselves; the third, trusted by
 * neither, is listed as untrusted and never sent anything. A peer that stops
 * is dropped at once (its goodbye), one killed is dropped once unheard.
 *
 * Needs root and iproute2 (CI has both: it runs as root, and .ci/run installs
 * iproute2). Outside CI, without them, it is skipped; in CI it never is.
 */
import type { ChildProcess } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Lan } from "./helpers/Lan.js"

const BIN = fileURLToPath(new URL("../packages/cli/bin/cairn.js", import.meta.url))
const canRun = Lan.available()
if (process.env.CI && !canRun) throw new Error("LAN discovery tests need root and iproute2 (`ip`) in CI: install iproute2")

/** Poll `check` every 200 ms until it returns something truthy, for at most `ms`. */
async function until<T>(what: string, check: () => Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value) return value as NonNullable<T>
    } catch (error) {
      last = error
    }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`)
}

describe.skipIf(!canRun)("LAN discovery across hosts (network namespaces)", () => {
  let lan: Lan
  const dirs: string[] = []
  const servers: ChildProcess[] = []
  const logs: string[] = []

  const cli = async (host: number, dir: string, args: string[]) => {
    const { stdout } = await lan.exec(host, process.execPath, [BIN, "--data", dir, ...args, "--json"])
    return JSON.parse(stdout)
  }

  /** `cairn serve --discover` on host `i`, listening on its LAN address; resolves once it listens. */
  const serve = async (i: number, dir: string, extra: string[] = []) => {
    const child = lan.spawn(i, process.execPath, [
      BIN,
      "--data",
      dir,
      "serve",
      "--host",
      lan.address(i),
      "--port",
      "0",
      "--discover",
      "--discover-interval",
      "300",
      ...extra,
    ])
    servers.push(child)
    child.stderr!.on("data", chunk => logs.push(`[host ${i}] ${chunk}`))
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", () => resolve())
      child.once("exit", code => reject(new Error(`serve on host ${i} exited with ${code}: ${logs.join("")}`)))
    })
    return child
  }

  beforeAll(async () => {
    lan = await Lan.create(3)
    for (let i = 0; i < 3; i++) dirs.push(await mkdtemp(join(tmpdir(), "cairn-lan-")))
  }, 60_000)

  afterAll(async () => {
    for (const child of servers) if (child.exitCode === null) child.kill("SIGKILL")
    await lan?.remove()
    await Promise.all(dirs.map(dir => rm(dir, { recursive: true, force: true })))
  })

  it("trusted machines find each other and sync; an untrusted one is listed, never sent anything; leavers are dropped", async () => {
    const [alpha, beta, stranger] = dirs as [string, string, string]
    const ids = await Promise.all([
      cli(0, alpha, ["init", "--name", "alpha"]),
      cli(1, beta, ["init", "--name", "beta"]),
      cli(2, stranger, ["init", "--name", "stranger"]),
    ])
    await cli(0, alpha, ["trust", ids[1].publicKey, "--read", "*", "--write", "*", "--name", "beta"])
    await cli(1, beta, ["trust", ids[0].publicKey, "--read", "*", "--write", "*", "--name", "alpha"])
    const note = (await cli(0, alpha, ["create", "note", '{"body": "found on the LAN"}'])).id
    await cli(2, stranger, ["create", "note", '{"body": "the stranger keeps this"}'])

    await Promise.all([serve(0, alpha), serve(1, beta, ["--tcp", "0"]), serve(2, stranger)])

    // Alpha lists both others, with their machine ids and addresses, and trusts only beta.
    const nearby = await until("alpha to find beta and the stranger", async () => {
      const found = await cli(0, alpha, ["peers", "--nearby"])
      return found.length === 2 && found
    })
    const byId = Object.fromEntries(nearby.map((m: any) => [m.machineId, m]))
    expect(byId[ids[1].machineId]).toMatchObject({ name: "beta", address: lan.address(1), trusted: true })
    expect(byId[ids[2].machineId]).toMatchObject({ name: "stranger", address: lan.address(2), trusted: false })
    // Beta listens on TCP too: both ports are advertised.
    expect(Object.keys(byId[ids[1].machineId].ports)).toEqual(["ws", "tcp"])
    expect(Object.keys(byId[ids[2].machineId].ports)).toEqual(["ws"])
    // The advert carries ids, fingerprints and ports: no type name, no document id.
    expect(JSON.stringify(nearby)).not.toContain("note")
    expect(JSON.stringify(nearby)).not.toContain(note)

    // Alpha and beta connect by themselves: the note reaches beta.
    await until("the note to reach beta", async () => (await cli(1, beta, ["get", note])).data.body === "found on the LAN")
    expect((await cli(0, alpha, ["peers"])).find((p: any) => p.machineId === ids[1].machineId).connected).toBe(true)

    // The stranger was never connected to and got nothing; it has only its own note.
    const strangers = await cli(2, stranger, ["ls"])
    expect(strangers.map((d: any) => d.data.body)).toEqual(["the stranger keeps this"])
    expect((await cli(2, stranger, ["peers"])).filter((p: any) => p.connected)).toEqual([])
    expect((await cli(0, alpha, ["ls"])).map((d: any) => d.data.body)).toEqual(["found on the LAN"])

    // Beta stops (its goodbye reaches alpha): dropped from the list.
    servers[1]!.kill("SIGTERM")
    await until("alpha to drop beta", async () => {
      const found = await cli(0, alpha, ["peers", "--nearby"])
      return !found.some((m: any) => m.machineId === ids[1].machineId)
    })
    // The stranger is killed (no goodbye): dropped once it has been silent for three rounds.
    servers[2]!.kill("SIGKILL")
    await until("alpha to drop the killed stranger", async () => {
      const found = await cli(0, alpha, ["peers", "--nearby"])
      return found.length === 0
    })
    const trust = JSON.parse(await readFile(join(alpha, "trust.json"), "utf8"))
    expect(trust.machines.map((m: any) => m.machineId)).toEqual([ids[1].machineId])
  }, 90_000)

  it("`cairn peers --nearby` without a running server looks for itself", async () => {
    const fresh = await mkdtemp(join(tmpdir(), "cairn-lan-"))
    dirs.push(fresh)
    await cli(1, fresh, ["init", "--name", "looker"])
    // Alpha's server still runs and advertises; a look from host 1 finds it, untrusted there.
    const found = await cli(1, fresh, ["peers", "--nearby", "--wait", "2"])
    expect(found).toHaveLength(1)
    expect(found[0]).toMatchObject({ name: "alpha", address: lan.address(0), trusted: false, connected: false })
    const human = await lan.exec(1, process.execPath, [BIN, "--data", fresh, "peers", "--nearby", "--wait", "1"])
    expect(human.stdout).toMatch(/^NAME\s+MACHINE\s+ADDRESS\s+TRUSTED\s+CONNECTED/)
    expect(human.stdout).toContain(`ws://${lan.address(0)}:`)
  }, 60_000)
})
