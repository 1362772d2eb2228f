/**
 * The trust list on disk: what it lets in, what it refuses, and what it remembers of a machine removed.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Machine } from "@cairn/core"
import { afterEach, describe, expect, it } from "vitest"
import { TrustList } from "../src/TrustList.js"

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(dir => rm(dir, { recursive: true, force: true })))
})

async function list(): Promise<{ trust: TrustList; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-trust-"))
  dirs.push(dir)
  return { trust: await TrustList.open(dir), dir }
}

describe("TrustList", () => {
  it("keeps every one of many machines trusted at once", async () => {
    const { trust, dir } = await list()
    const machines = await Promise.all(Array.from({ length: 8 }, () => Machine.generate()))
    await Promise.all(machines.map(machine => trust.trust(machine.publicKey, { read: "*", write: ["task"] })))
    const again = await TrustList.open(dir)
    expect(
      again
        .list()
        .map(machine => machine.machineId)
        .sort(),
    ).toEqual(machines.map(machine => machine.machineId).sort())
  })

  it("remembers a machine removed: let in no more, its changes refused, until it is trusted again", async () => {
    const { trust, dir } = await list()
    const [kept, gone] = await Promise.all([Machine.generate(), Machine.generate()])
    await trust.trust(kept.publicKey, { read: "*", write: "*" })
    await trust.trust(gone.publicKey, { read: "*", write: "*" })
    expect(await trust.untrust(gone.machineId)).toBe(true)
    expect(await trust.untrust(gone.machineId)).toBe(false)
    const again = await TrustList.open(dir)
    expect(again.get(gone.publicKey)).toBeUndefined()
    expect(again.find(gone.machineId)).toBeUndefined()
    expect(again.list().map(machine => machine.machineId)).toEqual([kept.machineId])
    expect([again.removed(gone.machineId), again.removed(kept.machineId)]).toEqual([true, false])
    await again.trust(gone.publicKey, { read: ["task"] })
    expect(again.removed(gone.machineId)).toBe(false)
    expect(again.get(gone.publicKey)?.read).toEqual(["task"])
  })
})
