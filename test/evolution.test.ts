/**
 * A type that evolves, across processes: an app at version 1 of `task` and
 * two at version 2 (a field with a default, an optional field, one more
 * allowed status; see test/fixtures/evolvingTypes.mjs), editing the same
 * documents, offline too, and syncing through the version 1 peer. Compatible
 * changes need nothing: every peer converges, each reads its own shape, and
 * the older peer keeps and passes on what it does not know. A version 3
 * that renames a field is named at connect by both sides.
 */
import { afterAll, describe, expect, it } from "vitest"
import { PeerProcess, TempDirs, eventually } from "./helpers/PeerProcess.js"

const dirs = new TempDirs()
const running: PeerProcess[] = []
afterAll(async () => {
  await Promise.all(running.map(p => p.kill()))
  await dirs.cleanup()
})

async function start(types: "task-v1" | "task-v2" | "task-v3"): Promise<PeerProcess> {
  const peer = await PeerProcess.start({ dir: await dirs.make(), types })
  running.push(peer)
  return peer
}

describe("a type at two versions", () => {
  it("old and new apps edit the same documents and converge; the old one keeps and passes on the new fields", async () => {
    // old (version 1) serves; two new ones (version 2) reach each other only through it.
    const old = await start("task-v1")
    const [left, right] = await Promise.all([start("task-v2"), start("task-v2")])
    const { url } = await old.call("listen")
    await Promise.all([left.call("connect", { url }), right.call("connect", { url })])
    await Promise.all([left.call("synced"), right.call("synced")])

    const fromOld = await old.call("create", { type: "task", data: { title: "made by version 1" } })
    const fromNew = await left.call("create", {
      type: "task",
      data: { title: "made by version 2", status: "archived", priority: 5, due: "2027-01-01" },
    })
    const everywhere = (id: string, check: (doc: any) => boolean) =>
      Promise.all([old, left, right].map(peer => eventually(async () => check(await peer.call("get", { id })))))
    await everywhere(fromNew, doc => doc.data.title === "made by version 2")
    await everywhere(fromOld, doc => doc.data.title === "made by version 1")

    // The old app reads what it knows, and keeps the rest: a status it does not know and two fields.
    const atOld = await old.call("get", { id: fromNew })
    expect(atOld.data).toMatchObject({ title: "made by version 2", status: "archived", priority: 5, due: "2027-01-01" })
    expect((await old.call("entry", { id: fromNew })).quarantined).toBeUndefined()
    // ... and passes them on: `right` got the document only through `old`.
    expect((await right.call("get", { id: fromNew })).data).toMatchObject({ status: "archived", priority: 5, due: "2027-01-01" })
    // The new apps read a version 1 document with version 2's default, and without the optional field.
    const atNew = await right.call("get", { id: fromOld })
    expect(atNew.data).toEqual({ title: "made by version 1", status: "open", notes: "", priority: 0 })

    // Offline, concurrently: the old app edits both documents, the new ones too, then they meet again.
    await Promise.all([left.call("disconnect", { url }), right.call("disconnect", { url })])
    await old.call("change", { type: "task", id: fromNew, ops: [{ op: "set", path: ["title"], value: "renamed by version 1" }] })
    await old.call("change", { type: "task", id: fromOld, ops: [{ op: "splice", path: ["notes"], index: 0, del: 0, text: "old notes" }] })
    await left.call("change", { type: "task", id: fromNew, ops: [{ op: "set", path: ["priority"], value: 7 }] })
    await right.call("change", {
      type: "task",
      id: fromOld,
      ops: [
        { op: "set", path: ["priority"], value: 3 },
        { op: "set", path: ["status"], value: "done" },
      ],
    })
    await Promise.all([left.call("connect", { url }), right.call("connect", { url })])
    await everywhere(fromNew, doc => doc.data.title === "renamed by version 1" && doc.data.priority === 7)
    await everywhere(fromOld, doc => doc.data.notes === "old notes" && doc.data.priority === 3 && doc.data.status === "done")

    // The same heads everywhere: nothing lost on any side.
    for (const id of [fromNew, fromOld]) {
      const heads = await Promise.all([old, left, right].map(peer => peer.call("heads", { id })))
      expect(heads[1]).toEqual(heads[0])
      expect(heads[2]).toEqual(heads[0])
    }
    expect((await old.call("get", { id: fromOld })).data).toMatchObject({ title: "made by version 1", priority: 3, status: "done" })
    await Promise.all([old.stop(), left.stop(), right.stop()])
  }, 60_000)

  it("a peer at a version this one cannot live beside is named at connect, in its status and a warning, and syncing goes on", async () => {
    const old = await start("task-v1")
    const renamed = await start("task-v3")
    const fromOld = await old.call("create", { type: "task", data: { title: "made by version 1" } })
    const { url } = await old.call("listen")
    await renamed.call("connect", { url })
    await renamed.call("synced")
    const [atOld] = await old.call("peers")
    expect(atOld.schemas).toEqual([expect.objectContaining({ type: "task", localVersion: 1, remoteVersion: 3, verdict: "needs a lens" })])
    expect(atOld.schemas[0].fields.map((field: { path: string; change: string }) => `${field.path} ${field.change}`).sort()).toEqual([
      "name added",
      "title removed",
    ])
    const [atRenamed] = await renamed.call("peers")
    expect(atRenamed.schemas[0]).toMatchObject({ type: "task", localVersion: 3, remoteVersion: 1 })
    expect(renamed.stderr.join("")).toMatch(/defines task as version 1, this peer as version 3: needs a lens \(title removed; name added\)/)
    // The document still arrives; version 3 finds it lacks `name` and quarantines it, with the reason, rather than lose it.
    await eventually(async () => (await renamed.call("entry", { id: fromOld }))?.quarantined)
    expect((await renamed.call("entry", { id: fromOld })).quarantined).toMatch(/name/)
  })
})
