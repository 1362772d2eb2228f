/**
 * openLocal on documents created at another version: an app at version 1
 * reaches a peer that has learnt version 2 (from a peer that writes it, at
 * connect or through a schema document) and reads and writes version 2's
 * documents in its own shape, through version 2's lens backwards, as the
 * peer's own database does; an app at version 2 writes version 1's
 * documents through its lens. Both through the peer's real socket. A
 * version the peer learns while the app is connected reaches the app at
 * once, and a change written without the document's version is refused,
 * never stored under the app's field names.
 */
import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { defineType, type Envelope, f, newSessionActor } from "@cairn/core"
import { waitFor } from "../../../core/test/wait.js"
import { LocalClient, NodePeer, openLocal } from "../../src/index.js"
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

  it("an app connected when its peer learns version 2 from a peer that writes it writes version 2's documents through the lens, without reconnecting", async () => {
    const { dir, peer } = await holder([V1])
    const app = await openLocal({ dir, types: [V1] })
    afterThisTest(() => app.close())
    const writer = await NodePeer.open({ dir: await tempDir(), types: [V2], publishDefinitions: false })
    afterThisTest(() => writer.close())
    const made = await writer.db.create(V2, { name: "made at version 2", priority: 2 })
    const { url } = await peer.listen({ port: 0 })
    await writer.connect(url)
    await waitFor(() => peer.db.catalog.get(made.id) && peer.db.definition("task")?.newerAt(2), { what: "version 2 and its document" })

    await waitFor(async () => (await app.get(V1, made.id)).data.title === "made at version 2", { what: "the app reading it" })
    await app.change(V1, made.id, draft => {
      draft.title = "renamed by the app"
    })
    // Stored under version 2's names: no `title` beside `name`.
    expect((await peer.db.get(V2, made.id)).data).toEqual({ name: "renamed by the app", done: false, priority: 2 })
    await waitFor(async () => (await writer.db.get(V2, made.id)).data.name === "renamed by the app", { what: "the writer" })
  })

  it("refuses a change written without the document's version, naming it, and stores nothing of it", async () => {
    const { dir, peer } = await holder([V1])
    await peer.db.learnNewer(V2)
    const made = await peer.db.create(V2, { name: "made at version 2" })
    const client = (await LocalClient.connect(dir))!
    afterThisTest(() => client.close())
    const [{ bytes }] = (await client.request<{ bytes: string }[]>("load", { docs: [{ id: made.id }] })) as [{ bytes: string }]
    const copy = A.load<Envelope>(Buffer.from(bytes, "base64"), { actor: newSessionActor(peer.machineId) as A.ActorId })
    const next = A.change(copy, doc => {
      ;(doc.data as Record<string, unknown>).title = new A.ImmutableString("under version 1's name")
    })
    const write = { id: made.id, bytes: Buffer.from(A.saveSince(next, A.getHeads(copy))).toString("base64") }
    await expect(client.request("apply", { docs: [{ ...write, reads: { version: 1, newer: [] } }] })).rejects.toThrow(
      /created at task version 2, which this app \(version 1\) has not learnt/,
    )
    await expect(client.request("apply", { docs: [{ ...write, reads: { version: "1" } }] })).rejects.toThrow(/reads must be/)
    expect((await peer.db.get(V2, made.id)).data).toEqual({ name: "made at version 2", done: false, priority: 0 })
  })
})
