/**
 * openLocal on documents created at another version: an app at version 1
 * reaches a peer that has learnt version 2 (from a peer that writes it, at
 * connect or through a schema document) and reads and writes version 2's
 * documents in its own shape, through version 2's lens backwards, as the
 * peer's own database does; an app at version 2 writes version 1's
 * documents through its lens. Both through the peer's real socket.
 */
import { describe, expect, it } from "vitest"
import { defineType, f } from "@cairn/core"
import { NodePeer, openLocal } from "../../src/index.js"
import { afterThisTest, tempDir } from "../helpers/afterEachTest.js"

const V1 = defineType("task", { version: 1, fields: { title: f.string(), done: f.boolean().default(false) } })
const V2 = defineType("task", {
  version: 2,
  fields: { name: f.string(), done: f.boolean().default(false), priority: f.number().default(0) },
  lenses: [{ from: 1, to: 2, ops: [{ op: "rename", from: ["title"], to: ["name"] }] }],
})

async function holder(types: (typeof V1 | typeof V2)[]) {
  const dir = await tempDir()
  const peer = await NodePeer.open({ dir, types })
  afterThisTest(() => peer.close())
  return { dir, peer }
}

describe("openLocal on documents of another version", () => {
  it("an app at version 1 writes a document version 2 created, once its peer has learnt version 2", async () => {
    const { dir, peer } = await holder([V1])
    await peer.db.learnNewer(V2)
    const made = await peer.db.create(V2, { name: "made at version 2", priority: 3 })
    const app = await openLocal({ dir, types: [V1] })
    afterThisTest(() => app.close())
    expect((await app.get(V1, made.id)).data).toEqual({ title: "made at version 2", done: false, priority: 3 })
    const changed = await app.change(V1, made.id, draft => {
      draft.title = "renamed at version 1"
      draft.done = true
    })
    expect(changed.data).toMatchObject({ title: "renamed at version 1", done: true })
    // Stored in version 2's shape: a version 2 reader sees its own field names.
    expect((await peer.db.get(V2, made.id)).data).toEqual({ name: "renamed at version 1", done: true, priority: 3 })
  })

  it("an app at version 2 writes a document version 1 created through its lens", async () => {
    const { dir, peer } = await holder([V1])
    const made = await peer.db.create(V1, { title: "made at version 1" })
    const app = await openLocal({ dir, types: [V2] })
    afterThisTest(() => app.close())
    await app.change(V2, made.id, draft => {
      draft.name = "renamed at version 2"
    })
    expect((await peer.db.get(V1, made.id)).data).toEqual({ title: "renamed at version 2", done: false })
  })
})
