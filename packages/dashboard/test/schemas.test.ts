/**
 * Definitions as data through the dashboard's API, on a real server: a peer
 * with no app code shows a type's fields from the newest definition synced
 * to it (published by the apps as they opened), and creates with its
 * defaults and kinds, refusing what it does not allow; the schema documents
 * are not listed as types of their own; edits there are checked against the
 * synced definition of the document's version. A peer whose definition of a type
 * cannot live beside this one's is named in the overview's peers.
 */
import { describe, expect, it } from "vitest"
import { defineType, f } from "@cairn/core"
import { NodePeer } from "@cairn/node"
import { cleanup, served, tempDir } from "./served.js"

const V1 = defineType("task", { version: 1, fields: { title: f.string() } })
const V2 = defineType("task", {
  version: 2,
  fields: {
    name: f.string(),
    priority: f.number().default(0),
    status: f.string({ values: ["open", "done"] }).default("open"),
    notes: f.text().default(""),
  },
  lenses: [{ from: 1, to: 2, ops: [{ op: "rename", from: ["title"], to: ["name"] }] }],
})
/** Version 3 renames `name` without a lens: a peer at version 1 cannot read it. */
const V3 = defineType("task", { version: 3, fields: { label: f.string() } })

async function app(url: string, types: (typeof V1 | typeof V2 | typeof V3)[]) {
  const peer = await NodePeer.open({ dir: await tempDir(), types })
  cleanup.push(() => peer.close())
  peer.connect(url)
  await peer.whenSynced(10_000)
  return peer
}

describe("DashboardServer: schemas synced from peers", () => {
  it("shows a type's fields from the newest synced definition on a peer with no app code, and creates with its defaults and kinds", async () => {
    const { call, address } = await served()
    await app(address.url, [V1])
    const desk = await app(address.url, [V2])

    const overview = (await call("GET", "/api/overview")).json
    expect(overview.types).toEqual([{ type: "task", count: 0, defined: false, synced: true }])
    expect(overview.schemas.task).toEqual(V2.toJSON())
    expect(overview.schemaSources).toEqual({ task: "synced" })

    const created = await call("POST", "/api/docs", { type: "task", data: { name: "made on the relay", notes: { $text: "n" } } })
    expect(created.status).toBe(201)
    expect(created.json.document.data).toEqual({ name: "made on the relay", priority: 0, status: "open", notes: { $text: "n" } })
    expect(created.json.document.typeVersion).toBe(2)
    expect(created.json.definition.version).toBe(2)
    const id = created.json.document.id as string
    await expect.poll(() => desk.db.catalog.has(id), { timeout: 10_000 }).toBe(true)
    expect((await desk.db.get(V2, id)).data).toMatchObject({ name: "made on the relay", priority: 0 })

    for (const [data, problem] of [
      [{ name: 5 }, /name/],
      [{ name: "x", status: "archived" }, /status/],
      [{ name: "x", priority: "high" }, /priority/],
    ] as const) {
      const refused = await call("POST", "/api/docs", { type: "task", data })
      expect(refused.status).toBe(400)
      expect(refused.json.error).toMatch(problem)
    }
    expect((await call("GET", "/api/overview")).json.types).toEqual([{ type: "task", count: 1, defined: false, synced: true }])
  })

  it("edits a document on a peer with no app code through the synced definition of its version: kinds, allowed values, text kept text", async () => {
    const { call, address } = await served()
    const old = await app(address.url, [V1])
    const desk = await app(address.url, [V2])
    const made = await desk.db.create(V2, { name: "made at version 2" })
    const older = await old.db.create(V1, { title: "made at version 1" })
    const edit = (id: string, change: object) => call("POST", `/api/docs/${id}/edit`, change)
    await expect.poll(async () => (await call("GET", `/api/docs/${made.id}`)).status, { timeout: 10_000 }).toBe(200)
    await expect.poll(async () => (await call("GET", `/api/docs/${older.id}`)).status, { timeout: 10_000 }).toBe(200)

    for (const [change, problem] of [
      [{ op: "set", path: ["status"], value: "archived" }, /status/],
      [{ op: "set", path: ["priority"], value: "high" }, /priority/],
      [{ op: "set", path: ["name"], value: 5 }, /name/],
      [{ op: "set", path: ["unknown"], value: "x" }, /unknown/],
    ] as const) {
      const refused = await edit(made.id, change)
      expect(refused.status, JSON.stringify(change)).toBe(400)
      expect(refused.json.error).toMatch(problem)
    }
    // Version 1's document is checked against version 1's definition (synced from the version 1 app), not version 2's.
    expect((await edit(older.id, { op: "set", path: ["title"], value: 5 })).json.error).toMatch(/title/)
    expect((await edit(older.id, { op: "set", path: ["title"], value: "retitled on the relay" })).status).toBe(200)

    await edit(made.id, { op: "set", path: ["priority"], value: 3 })
    await edit(made.id, { op: "splice", path: ["notes"], index: 0, del: 0, text: "from the relay" })
    const last = await edit(made.id, { op: "set", path: ["status"], value: "done" })
    expect(last.status).toBe(200)
    expect(last.json.document.data).toEqual({ name: "made at version 2", priority: 3, status: "done", notes: { $text: "from the relay" } })
    await expect.poll(async () => (await desk.db.get(V2, made.id)).data.status, { timeout: 10_000 }).toBe("done")
    expect((await desk.db.get(V2, made.id)).data).toEqual({
      name: "made at version 2",
      priority: 3,
      status: "done",
      notes: "from the relay",
    })
    await expect.poll(async () => (await old.db.get(V1, older.id)).data.title, { timeout: 10_000 }).toBe("retitled on the relay")
  })

  it("names a peer whose definition of a type cannot live beside this peer's, with the fields that differ", async () => {
    const { call, address } = await served({}, [V1])
    await app(address.url, [V3])
    const { peers, schemaSources } = (await call("GET", "/api/overview")).json
    expect(schemaSources).toEqual({ task: "app" })
    expect(peers).toHaveLength(1)
    expect(peers[0].schemas).toMatchObject([{ type: "task", localVersion: 1, remoteVersion: 3, verdict: "needs a lens" }])
    expect(peers[0].schemas[0].fields.map((field: { path: string; change: string }) => `${field.path} ${field.change}`)).toEqual([
      "title removed",
      "label added",
    ])
  })
})
