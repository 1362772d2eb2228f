/**
 * Lenses across processes: an app at version 1 of `task` and one at a
 * version 2 that renames two fields and turns a string into a boolean
 * through a declared lens (test/fixtures/evolvingTypes.mjs, typesV2Lens).
 * Each creates documents, both edit all of them offline, and they sync:
 * both converge, each reads its own shape, and the version 1 app learns
 * version 2's definition at connect. Then two peers upgrade to version 2 at
 * once: nothing is migrated, so nothing is duplicated.
 */
import { afterAll, describe, expect, it } from "vitest"
import { PeerProcess, TempDirs, eventually } from "./helpers/PeerProcess.js"
import { sameHeads, shareThenUpgrade } from "./helpers/upgrading.js"

const dirs = new TempDirs()
const running: PeerProcess[] = []
afterAll(async () => {
  await Promise.all(running.map(p => p.kill()))
  await dirs.cleanup()
})

async function start(types: "task-v1" | "task-v2-lens", dir?: string): Promise<PeerProcess> {
  const peer = await PeerProcess.start({ dir: dir ?? (await dirs.make()), types })
  running.push(peer)
  return peer
}

describe("a type changed through a lens", () => {
  it("version 1 and version 2 apps edit the same documents offline, converge, and each reads its own shape", async () => {
    const old = await start("task-v1")
    const next = await start("task-v2-lens")
    const fromOld = await old.call("create", { type: "task", data: { title: "made by version 1", notes: "old" } })
    const fromNew = await next.call("create", { type: "task", data: { name: "made by version 2", body: "new", done: true } })
    const { url } = await old.call("listen")
    await next.call("connect", { url })
    await next.call("synced")
    await eventually(async () => (await old.call("entry", { id: fromNew }))?.heads)
    await eventually(async () => (await next.call("entry", { id: fromOld }))?.heads)

    // Neither side calls the other incompatible: the lens covers every change.
    expect((await old.call("peers"))[0].schemas ?? []).toEqual([])
    // Each reads the other's document in its own shape (version 1 through version 2's definition, learnt at connect).
    await eventually(async () => (await old.call("entry", { id: fromNew })).quarantined === undefined)
    expect((await old.call("get", { id: fromNew })).data).toEqual({ title: "made by version 2", notes: "new", status: "done", priority: 0 })
    expect((await next.call("get", { id: fromOld })).data).toEqual({ name: "made by version 1", body: "old", done: false, priority: 0 })

    // Offline, both edit both documents: the renamed text from both sides, the converted register from one.
    await next.call("disconnect", { url })
    await old.call("change", { type: "task", id: fromOld, ops: [{ op: "splice", path: ["notes"], index: 0, del: 0, text: "v1: " }] })
    await next.call("change", { type: "task", id: fromOld, ops: [{ op: "splice", path: ["body"], index: 3, del: 0, text: " :v2" }] })
    await next.call("change", { type: "task", id: fromOld, ops: [{ op: "set", path: ["done"], value: true }] })
    await old.call("change", { type: "task", id: fromNew, ops: [{ op: "splice", path: ["notes"], index: 3, del: 0, text: "!" }] })
    await old.call("change", { type: "task", id: fromNew, ops: [{ op: "set", path: ["status"], value: "open" }] })
    await next.call("change", { type: "task", id: fromNew, ops: [{ op: "splice", path: ["body"], index: 0, del: 0, text: "v2: " }] })
    await next.call("connect", { url })
    await next.call("synced")

    await Promise.all([sameHeads(old, next, fromOld), sameHeads(old, next, fromNew)])
    expect((await old.call("get", { id: fromOld })).data).toMatchObject({
      title: "made by version 1",
      notes: "v1: old :v2",
      status: "done",
    })
    expect((await next.call("get", { id: fromOld })).data).toMatchObject({ name: "made by version 1", body: "v1: old :v2", done: true })
    expect((await old.call("get", { id: fromNew })).data).toMatchObject({ notes: "v2: new!", status: "open" })
    expect((await next.call("get", { id: fromNew })).data).toMatchObject({ name: "made by version 2", body: "v2: new!", done: false })
    await Promise.all([old.stop(), next.stop()])
  }, 60_000)

  it("two peers upgrading to version 2 at once write no migrated copy: the stored shape stays version 1's", async () => {
    const [dirA, dirB] = [await dirs.make(), await dirs.make()]
    // Both upgrade while apart, and each edits through version 2's shape before they meet again.
    const { a, b, id } = await shareThenUpgrade(
      [dirA, dirB],
      dir => start("task-v1", dir),
      dir => start("task-v2-lens", dir),
      "task",
      { title: "shared", notes: "text" },
    )
    await a.call("change", { type: "task", id, ops: [{ op: "set", path: ["name"], value: "renamed on a" }] })
    await b.call("change", { type: "task", id, ops: [{ op: "splice", path: ["body"], index: 4, del: 0, text: " from b" }] })
    const again = await a.call("listen")
    await b.call("connect", { url: again.url })
    await b.call("synced")
    await sameHeads(a, b, id)
    expect((await a.call("get", { id })).data).toEqual({ name: "renamed on a", body: "text from b", done: false, priority: 0 })
    await Promise.all([a.stop(), b.stop()])

    // Read by version 1 again, the document holds its own fields once each, and none of version 2's names.
    const back = await start("task-v1", dirA)
    const data = (await back.call("get", { id })).data
    expect(data).toEqual({ title: "renamed on a", notes: "text from b", status: "open" })
    await back.stop()
  }, 60_000)
})
