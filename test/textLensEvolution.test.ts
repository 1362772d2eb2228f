/**
 * A string register ↔ text lens across processes: an app at version 1 of
 * `note` (a string `title`, a text `body`) and one at version 2, which reads
 * `title` as text and `body` as a string through `convert`
 * (test/fixtures/evolvingTypes.mjs). Both edit both documents offline and
 * sync: they converge, each reads its own shape, and text edits from both
 * versions merge. Then two peers upgrade at once: nothing is migrated, so
 * nothing is duplicated and the stored kinds stay version 1's.
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

async function start(types: "note-v1" | "note-v2-text", dir?: string): Promise<PeerProcess> {
  const peer = await PeerProcess.start({ dir: dir ?? (await dirs.make()), types })
  running.push(peer)
  return peer
}

const splice = (path: string, index: number, text: string) => ({ op: "splice", path: [path], index, del: 0, text })

describe("a string register made text through a lens", () => {
  it("version 1 and version 2 apps edit the same notes offline, converge, and each reads its own kinds", async () => {
    const old = await start("note-v1")
    const next = await start("note-v2-text")
    const fromOld = await old.call("create", { type: "note", data: { title: "by 1", body: "old body" } })
    const fromNew = await next.call("create", { type: "note", data: { title: "by 2", body: "new body" } })
    const { url } = await old.call("listen")
    await next.call("connect", { url })
    await next.call("synced")
    await eventually(async () => {
      const entry = await old.call("entry", { id: fromNew })
      return entry !== undefined && entry !== null && entry.quarantined === undefined
    })
    await eventually(async () => (await next.call("entry", { id: fromOld }))?.heads)
    expect((await old.call("peers"))[0].schemas ?? []).toEqual([])
    expect((await old.call("get", { id: fromNew })).data).toEqual({ title: "by 2", body: "new body" })
    expect((await next.call("get", { id: fromOld })).data).toEqual({ title: "by 1", body: "old body" })

    // Offline: each splices the field it sees as text (whichever kind is stored) and sets the one it sees as a string.
    await next.call("disconnect", { url })
    await old.call("change", { type: "note", id: fromOld, ops: [splice("body", 0, "v1: ")] })
    await next.call("change", { type: "note", id: fromOld, ops: [{ op: "set", path: ["body"], value: "old body :v2" }] })
    await next.call("change", { type: "note", id: fromOld, ops: [splice("title", 4, " (seen by 2)")] })
    await old.call("change", { type: "note", id: fromNew, ops: [splice("body", 3, " text")] })
    await next.call("change", { type: "note", id: fromNew, ops: [{ op: "set", path: ["body"], value: "v2: new body" }] })
    await old.call("change", { type: "note", id: fromNew, ops: [{ op: "set", path: ["title"], value: "by 2, retitled by 1" }] })
    await next.call("connect", { url })
    await next.call("synced")
    await Promise.all([sameHeads(old, next, fromOld), sameHeads(old, next, fromNew)])

    // fromOld stores body as text: version 2's whole-string write arrived as a diff and merged with version 1's splice.
    const oldDoc = { title: "by 1 (seen by 2)", body: "v1: old body :v2" }
    expect((await old.call("get", { id: fromOld })).data).toEqual(oldDoc)
    expect((await next.call("get", { id: fromOld })).data).toEqual(oldDoc)
    // fromNew stores body as a register: the last write wins whole (both versions' edits are whole-value writes there).
    const newDoc = (await next.call("get", { id: fromNew })).data
    expect(newDoc.title).toBe("by 2, retitled by 1")
    expect(["new text body", "v2: new body"]).toContain(newDoc.body)
    expect((await old.call("get", { id: fromNew })).data).toEqual(newDoc)
    expect((await old.call("entry", { id: fromOld })).quarantined).toBeUndefined()
    expect((await next.call("entry", { id: fromNew })).quarantined).toBeUndefined()
    await Promise.all([old.stop(), next.stop()])
  }, 60_000)

  it("two peers upgrading at once edit the title as text, and version 1 still reads one string register", async () => {
    const [dirA, dirB] = [await dirs.make(), await dirs.make()]
    const { a, b, id } = await shareThenUpgrade(
      [dirA, dirB],
      dir => start("note-v1", dir),
      dir => start("note-v2-text", dir),
      "note",
      { title: "shared", body: "text" },
    )
    await a.call("change", { type: "note", id, ops: [splice("title", 6, " on a")] })
    await b.call("change", { type: "note", id, ops: [splice("title", 0, "b: ")] })
    const again = await a.call("listen")
    await b.call("connect", { url: again.url })
    await b.call("synced")
    await sameHeads(a, b, id)
    const title = (await a.call("get", { id })).data.title
    expect(["shared on a", "b: shared"]).toContain(title)
    expect((await b.call("get", { id })).data).toEqual({ title, body: "text" })
    await Promise.all([a.stop(), b.stop()])

    const back = await start("note-v1", dirA)
    expect((await back.call("entry", { id })).quarantined).toBeUndefined()
    expect((await back.call("get", { id })).data).toEqual({ title, body: "text" })
    await back.stop()
  }, 60_000)
})
