/**
 * `cairn presence` between two `cairn serve` processes: a state set on one
 * (through its running server) is seen on the other, with the link between
 * them; without a running server there is nothing to publish through.
 */
import { afterAll, describe, expect, it } from "vitest"
import { cairn, Dirs, json, startServe, until } from "./helpers.js"

const dirs = new Dirs()
const stops: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const stop of stops) await stop()
  await dirs.cleanup()
})

describe("cairn presence", () => {
  it("a state set on one machine is seen on the other, with the link between them", async () => {
    const [a, b] = [await dirs.make(), await dirs.make()]
    const ida = await json(["--data", a, "init", "--name", "desk"])
    const idb = await json(["--data", b, "init", "--name", "phone"])
    const server = await startServe(["--data", a])
    stops.push(server.stop)
    const client = await startServe(["--data", b], ["--open", "--connect", server.url])
    stops.push(client.stop)
    const set = await json(["--data", b, "presence", "set", '{"status": "on the train"}'])
    expect(set[0]).toMatchObject({ machineId: idb.machineId, state: { status: "on the train" } })
    const seen = await until(async () => {
      const entries = await json(["--data", a, "presence"])
      return entries.find((e: any) => e.machineId === idb.machineId && e.state.status === "on the train") && entries
    })
    expect(seen[0]).toMatchObject({ machineId: ida.machineId, name: "desk", links: [{ machineId: idb.machineId }] })
    expect(seen[1]).toMatchObject({ name: "phone", via: idb.machineId, links: [{ machineId: ida.machineId }] })
    const human = await cairn(["--data", a, "presence"])
    expect(human.stdout).toMatch(/^MACHINE\s+NAME\s+STATE\s+HEARD\s+VIA\s+LINKS/)
    expect(human.stdout).toContain('{"status":"on the train"}')
  })

  it("refuses to set a state with no server running, and a state that is not a small JSON object", async () => {
    const dir = await dirs.make()
    await json(["--data", dir, "init"])
    const alone = await cairn(["--data", dir, "presence", "set", '{"status": "x"}'])
    expect(alone.code).toBe(2)
    expect(alone.stderr).toMatch(/no cairn serve runs on this directory/)
    const server = await startServe(["--data", dir])
    stops.push(server.stop)
    const big = await cairn(["--data", dir, "presence", "set", JSON.stringify({ x: "y".repeat(5000) })])
    expect(big.code).toBe(2)
    expect(big.stderr).toMatch(/at most 4096 bytes/)
    const notJson = await cairn(["--data", dir, "presence", "set", "status=busy"])
    expect(notJson.code).toBe(2)
  })
})
