import { describe, expect, it } from "vitest"
import { GroupCommit } from "../src/database/GroupCommit.js"
import { sleep } from "./helpers.js"

/** A GroupCommit whose saves take `saveMs` each, recording the groups it saved. */
function slowCommit(saveMs: number) {
  const groups: string[][] = []
  let running = 0
  let overlapped = false
  const commit = new GroupCommit(async ids => {
    if (running++ > 0) overlapped = true
    groups.push(ids)
    await sleep(saveMs)
    running--
  })
  return { commit, groups, overlapped: () => overlapped }
}

describe("GroupCommit", () => {
  it("under a steady stream of writes saves one group at a time, each taking everything committed during the last", async () => {
    const { commit, groups, overlapped } = slowCommit(20)
    const waits: Promise<number>[] = []
    for (let i = 0; i < 100; i++) {
      const at = Date.now()
      waits.push(commit.commit([`doc${i}`]).then(() => Date.now() - at))
      await sleep(2)
    }
    const latencies = await Promise.all(waits)
    expect(overlapped()).toBe(false)
    expect(groups.flat().sort()).toEqual(Array.from({ length: 100 }, (_, i) => `doc${i}`).sort())
    // About 200 ms of writes in saves of 20 ms: some ten groups, not one per write. A group per turn of the event
    // loop queued a hundred saves one behind the other, and the last write waited for all of them.
    expect(groups.length).toBeLessThan(25)
    expect(Math.max(...latencies)).toBeLessThan(20 * 2 + 100)
  })

  it("resolves idle() once everything committed before it is saved", async () => {
    const { commit, groups } = slowCommit(10)
    void commit.commit(["a"])
    await sleep(1)
    void commit.commit(["b"])
    await commit.idle()
    expect(groups.flat()).toEqual(["a", "b"])
    await commit.idle()
  })

  it("rejects the writes of a failed save only; the next group saves afresh", async () => {
    let fail = true
    const saved: string[][] = []
    const commit = new GroupCommit(async ids => {
      await sleep(5)
      if (fail) {
        fail = false
        throw new Error("disk full")
      }
      saved.push(ids)
    })
    const first = commit.commit(["a"])
    await sleep(1)
    const second = commit.commit(["b"])
    await expect(first).rejects.toThrow("disk full")
    await expect(second).resolves.toBeUndefined()
    expect(saved).toEqual([["b"]])
  })
})
