import { request as httpRequest } from "node:http"
import { mkdir, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it, vi } from "vitest"
import { generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo"
import { decodeDocument, defineType, describedType, EXPORT_FORMAT, f, type TypeDefinition } from "@cairn/core"
import { NodePeer } from "@cairn/node"
import { locateDashboard, type DashboardOptions } from "../src/index.js"
import { cleanup, eventsOf, served as serve, tempDir } from "./served.js"

const Task = defineType("task", {
  fields: { title: f.string(), votes: f.counter(), notes: f.text().default(""), tags: f.list(f.string()) },
})
const Tag = defineType("tag", { fields: { label: f.string() } })
/** A `task` whose title is a number: a task made elsewhere with a string title breaks it, and is quarantined here. */
const StrictTask = defineType("task", { fields: { title: f.number() } })

const served = (options: DashboardOptions = {}, types: TypeDefinition<any>[] = [Task, Tag]) => serve(options, types)

/** Tasks with string titles, made on a peer with no definition of `task` and synced to `url`: a peer with StrictTask quarantines them. */
async function sendStringTitledTasks(url: string, titles: string[]): Promise<string[]> {
  const other = await NodePeer.open({ dir: await tempDir() })
  cleanup.push(() => other.close())
  const ids: string[] = []
  for (const title of titles) ids.push((await other.db.create("task", { title })).id)
  other.connect(url)
  await other.whenSynced(10_000)
  return ids
}

/** The types of the documents here, without the schema documents the peer published as it opened. */
const appTypes = (peer: NodePeer) => peer.db.types().filter(({ type }) => describedType(type) === undefined)

/** A raw request, so the Host header can be anything. */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, headers }, res => {
      let body = ""
      res.on("data", chunk => (body += chunk))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on("error", reject)
    req.end()
  })
}

describe("DashboardServer API", () => {
  it("gives an overview of this machine, its types with counts and its peers", async () => {
    const { peer, call } = await served()
    await peer.db.create(Task, { title: "a" })
    await peer.db.create(Task, { title: "b" })
    await peer.db.create("note", { body: { $text: "hi" } })
    const { status, json } = await call("GET", "/api/overview")
    expect(status).toBe(200)
    expect(json.machine.machineId).toBe(peer.machineId)
    expect(json.types).toEqual([
      { type: "note", count: 1, defined: false },
      { type: "tag", count: 0, defined: true },
      { type: "task", count: 2, defined: true },
    ])
    expect(Object.keys(json.schemas).sort()).toEqual(["tag", "task"])
    expect(json.schemas.task.fields.votes).toEqual({ kind: "counter" })
    expect(json.peers).toEqual([])
    expect(json.connections).toEqual([])
  })

  it("creates, lists, reads, edits every kind and deletes a typed document", async () => {
    const { peer, call } = await served()
    const created = await call("POST", "/api/docs", {
      type: "task",
      data: { title: "write docs", votes: { $counter: 2 }, notes: { $text: "draft" } },
    })
    expect(created.status).toBe(201)
    const id = created.json.document.id as string
    expect(created.json.document.data).toEqual({ title: "write docs", votes: { $counter: 2 }, notes: { $text: "draft" }, tags: [] })
    expect(created.json.definition.name).toBe("task")

    const list = await call("GET", "/api/docs?type=task")
    expect(list.json.docs.map((d: any) => [d.id, d.summary])).toEqual([[id, "write docs"]])

    await call("POST", `/api/docs/${id}/edit`, { op: "set", path: ["title"], value: "write better docs" })
    await call("POST", `/api/docs/${id}/edit`, { op: "incr", path: ["votes"], by: 3 })
    await call("POST", `/api/docs/${id}/edit`, { op: "splice", path: ["notes"], index: 5, del: 0, text: " two" })
    const last = await call("POST", `/api/docs/${id}/edit`, { op: "set", path: ["tags"], value: ["x", "y"] })
    expect(last.status).toBe(200)
    expect(last.json.document.data).toEqual({
      title: "write better docs",
      votes: { $counter: 5 },
      notes: { $text: "draft two" },
      tags: ["x", "y"],
    })
    const settext = await call("POST", `/api/docs/${id}/edit`, { op: "settext", path: ["notes"], text: "final draft" })
    expect(settext.json.document.data.notes).toEqual({ $text: "final draft" })
    expect(settext.json.history.length).toBe(6)
    expect(settext.json.history[0].message).toBe("dashboard: settext notes")
    expect((await peer.db.get(Task, id)).data).toMatchObject({ title: "write better docs", votes: 5, notes: "final draft" })

    const deleted = await call("DELETE", `/api/docs/${id}`)
    expect(deleted.status).toBe(200)
    expect(deleted.json.deletedAt).toEqual(expect.any(Number))
    expect((await call("GET", "/api/docs?type=task")).json.docs).toEqual([])
    expect((await call("GET", "/api/docs?type=task&deleted=1")).json.docs).toHaveLength(1)
    expect((await call("POST", `/api/docs/${id}/edit`, { op: "incr", path: ["votes"] })).status).toBe(409)
  })

  it("keeps kinds from tagged JSON on a type it has no definition for", async () => {
    const { peer, call } = await served()
    const { json } = await call("POST", "/api/docs", {
      type: "budget.entry",
      data: { label: "rent", amount: 900, seen: { $counter: 0 }, memo: { $text: "" }, nested: { a: [1, { $counter: 1 }] } },
    })
    const id = json.document.id
    expect(json.definition).toBeNull()
    await call("POST", `/api/docs/${id}/edit`, { op: "incr", path: ["nested", "a", 1], by: -2 })
    await call("POST", `/api/docs/${id}/edit`, { op: "settext", path: ["memo"], text: "monthly" })
    const after = await call("POST", `/api/docs/${id}/edit`, { op: "set", path: ["amount"], value: 950 })
    expect(after.json.document.data).toEqual({
      label: "rent",
      amount: 950,
      seen: { $counter: 0 },
      memo: { $text: "monthly" },
      nested: { a: [1, { $counter: -1 }] },
    })
    expect((await peer.db.get(id)).data).toMatchObject({ nested: { a: [1, -1] } })
  })

  it("shows a typed document made without the definition with its defaults, and edits them", async () => {
    const { peer, call } = await served()
    const made = {
      format: EXPORT_FORMAT,
      id: parseAutomergeUrl(generateAutomergeUrl()).documentId,
      type: "task",
      typeVersion: 1,
      createdAt: 1,
      createdBy: "0123456789abcdef0123456789abcdef",
      modifiedAt: 1,
      deletedAt: null,
      data: { title: "from the CLI" },
    }
    // JSON alone imports as a new document, under an id of its own.
    const { id } = await peer.db.importDocument(decodeDocument(made))
    const { json } = await call("GET", `/api/docs/${id}`)
    expect(json.document.data).toEqual({ title: "from the CLI", votes: { $counter: 0 }, notes: { $text: "" }, tags: [] })
    const incremented = await call("POST", `/api/docs/${id}/edit`, { op: "incr", path: ["votes"], by: 2 })
    expect(incremented.json.document.data).toEqual({ title: "from the CLI", votes: { $counter: 2 }, notes: { $text: "" }, tags: [] })
    expect((await peer.db.exportDocument(id)).data).toEqual({ title: "from the CLI", votes: { $counter: 2 } })
  })

  it("refuses, without a definition, a set that would change a value's kind unless forced, and unknown tags", async () => {
    const { peer, call } = await served()
    const { json } = await call("POST", "/api/docs", {
      type: "budget.entry",
      data: { label: "rent", seen: { $counter: 2 }, memo: { $text: "m" }, lines: [1] },
    })
    const id = json.document.id
    const refusals: [unknown, RegExp][] = [
      [
        { op: "set", path: ["seen"], value: "abc" },
        /^refusing to replace a counter with a register, which would change its kind \(at seen\); send "force": true to replace it anyway$/,
      ],
      [{ op: "set", path: ["memo"], value: { $counter: 1 } }, /text with a counter.*\(at memo\)/],
      [{ op: "set", path: ["lines"], value: { a: 1 } }, /a list with a map.*\(at lines\)/],
      [
        { op: "set", path: ["label"], value: { $weird: 1 } },
        /^unknown tag "\$weird": tagged JSON knows "\$text", "\$counter" and "\$map" \(at label\)$/,
      ],
      [{ op: "set", path: ["label"], value: { $weird: 1 }, force: true }, /unknown tag "\$weird"/],
      [{ op: "set", path: ["label"], value: "x", force: "yes" }, /"force" must be true or false/],
    ]
    for (const [edit, message] of refusals) {
      const response = await call("POST", `/api/docs/${id}/edit`, edit)
      expect({ edit, status: response.status, error: response.json?.error }).toEqual({
        edit,
        status: 400,
        error: expect.stringMatching(message),
      })
    }
    const created = await call("POST", "/api/docs", { type: "budget.entry", data: { label: { $weird: 1 } } })
    expect(created.status).toBe(400)
    expect(created.json.error).toMatch(/unknown tag "\$weird".*\(at label\)/)
    expect(appTypes(peer)).toEqual([{ type: "budget.entry", count: 1 }])
    expect(await peer.db.history(id)).toHaveLength(1)

    expect((await call("POST", `/api/docs/${id}/edit`, { op: "set", path: ["memo"], value: "a string keeps text text" })).status).toBe(200)
    const forced = await call("POST", `/api/docs/${id}/edit`, { op: "set", path: ["seen"], value: "abc", force: true })
    expect(forced.status).toBe(200)
    expect(forced.json.document.data).toEqual({ label: "rent", seen: "abc", memo: { $text: "a string keeps text text" }, lines: [1] })
  })

  it("answers bad input with 400 and a message naming the problem, and changes nothing", async () => {
    const { peer, call } = await served()
    const doc = await peer.db.create(Task, { title: "keep me" })
    const id = doc.id
    const cases: [string, string, unknown, number, RegExp][] = [
      ["POST", "/api/docs", "{not json", 400, /not valid JSON/],
      ["POST", "/api/docs", [1, 2], 400, /"type"/],
      ["POST", "/api/docs", { type: "Bad Type", data: {} }, 400, /invalid type name/],
      ["POST", "/api/docs", { type: "task", data: "x" }, 400, /"data" must be a JSON object/],
      ["POST", "/api/docs", { type: "task", data: { title: 5 } }, 400, /expected a string.*title/],
      ["POST", "/api/docs", { type: "task", data: { title: "x", nope: 1 } }, 400, /unknown field "nope"/],
      ["POST", `/api/docs/${id}/edit`, { op: "explode", path: ["title"] }, 400, /unknown op "explode"/],
      ["POST", `/api/docs/${id}/edit`, { op: "set", path: [] }, 400, /"path" must be a non-empty array/],
      ["POST", `/api/docs/${id}/edit`, { op: "set", path: ["__proto__"], value: 1 }, 400, /"path" holds "__proto__"/],
      ["POST", `/api/docs/${id}/edit`, { op: "set", path: ["title"] }, 400, /needs a "value"/],
      ["POST", `/api/docs/${id}/edit`, { op: "set", path: ["title"], value: 7 }, 400, /expected a string/],
      [
        "POST",
        `/api/docs/${id}/edit`,
        { op: "incr", path: ["title"] },
        400,
        /title is not a counter \(it is a register holding "keep me"\)/,
      ],
      ["POST", `/api/docs/${id}/edit`, { op: "incr", path: ["votes"], by: "2" }, 400, /"by" must be a finite number/],
      [
        "POST",
        `/api/docs/${id}/edit`,
        { op: "splice", path: ["votes"], index: 0, del: 0, text: "x" },
        400,
        /votes is not text \(it is a counter\)/,
      ],
      ["POST", `/api/docs/${id}/edit`, { op: "splice", path: ["notes"], index: 99, del: 0, text: "x" }, 400, /outside the text/],
      ["POST", `/api/docs/${id}/edit`, { op: "splice", path: ["notes"], index: -1, del: 0 }, 400, /"index" must be a whole number/],
      ["POST", `/api/docs/${id}/edit`, { op: "settext", path: ["missing", "deep"], text: "x" }, 400, /nothing to edit at missing/],
      ["POST", `/api/docs/${id}/edit`, { op: "set", path: ["tags", "x"], value: "y" }, 400, /tags is a list/],
      ["GET", "/api/docs", undefined, 400, /GET \/api\/docs\?type=NAME/],
      ["GET", "/api/docs?type=task&limit=0", undefined, 400, /"limit" must be/],
      ["GET", "/api/docs/nope", undefined, 404, /no document with id nope/],
      ["POST", "/api/docs/nope/edit", { op: "incr", path: ["votes"] }, 404, /no document with id nope/],
      ["DELETE", "/api/docs/nope", undefined, 404, /no document with id nope/],
      ["GET", "/api/nothing", undefined, 404, /no API at \/api\/nothing/],
      ["PUT", "/api/docs", undefined, 405, /PUT is not allowed/],
    ]
    for (const [method, path, body, status, message] of cases) {
      const response = await call(method, path, body)
      expect({ method, path, body, status: response.status, error: response.json?.error }).toEqual({
        method,
        path,
        body,
        status,
        error: expect.stringMatching(message),
      })
    }
    expect((await peer.db.get(Task, id)).data).toEqual({ title: "keep me", votes: 0, notes: "", tags: [] })
    expect(await peer.db.history(id)).toHaveLength(1)
    expect(appTypes(peer)).toEqual([{ type: "task", count: 1 }])
  })

  it("limits body size and takes only JSON bodies", async () => {
    const { call } = await served({ maxBodyBytes: 1000 })
    const big = await call("POST", "/api/docs", { type: "task", data: { title: "x".repeat(2000) } })
    expect(big.status).toBe(413)
    expect(big.json.error).toMatch(/limit of 1000 bytes|limit is 1000/)
    const form = await call("POST", "/api/docs", "type=task", { "content-type": "text/plain" })
    expect(form.status).toBe(415)
    expect(form.json.error).toMatch(/Content-Type: application\/json/)
  })

  it("refuses other hosts and origins (DNS rebinding, cross-site writes)", async () => {
    const { address, call } = await served()
    const rebound = await rawGet(address.port, "/api/overview", { host: `evil.example:${address.port}` })
    expect(rebound.status).toBe(403)
    expect(JSON.parse(rebound.body).error).toMatch(/unexpected Host/)
    expect((await rawGet(address.port, "/api/overview", { host: `localhost:${address.port}` })).status).toBe(200)
    const crossSite = await call("POST", "/api/docs", { type: "task", data: { title: "csrf" } }, { origin: "https://evil.example" })
    expect(crossSite.status).toBe(403)
    expect(crossSite.json.error).toMatch(/another origin/)
    const sameSite = await call(
      "POST",
      "/api/docs",
      { type: "task", data: { title: "ok" } },
      { origin: `http://127.0.0.1:${address.port}` },
    )
    expect(sameSite.status).toBe(201)
  })

  it("streams document changes and peer status as Server-Sent Events", async () => {
    const { peer, base, address } = await served({ keepAliveMs: 50 })
    const { response, until } = await eventsOf(base)
    expect(response.headers.get("content-type")).toMatch(/text\/event-stream/)
    await until(/event: hello/)
    const doc = await peer.db.create(Task, { title: "live" })
    await until(new RegExp(`event: change\\ndata: \\{"id":"${doc.id}","type":"task","origin":"local"`))
    await until(/: keep-alive/)

    const other = await NodePeer.open({ dir: await tempDir(), types: [Task], name: "laptop" })
    cleanup.push(() => other.close())
    other.connect(`ws://127.0.0.1:${address.port}`)
    await until(/event: peers\ndata: .*"name":"laptop"/)
    await other.whenSynced(10_000)
    await other.close()
    await until(/event: peers\ndata: .*"connected":false/)
  })

  it("lists quarantined documents with the reason, shows one as stored, releases it once the definition allows it, and drops", async () => {
    const { peer, address, call } = await served({}, [StrictTask])
    const [kept, dropped] = await sendStringTitledTasks(`ws://127.0.0.1:${address.port}`, ["a string title", "another"])
    await vi.waitFor(() => expect(peer.db.quarantined()).toHaveLength(2), { timeout: 10_000 })

    expect((await call("GET", "/api/overview")).json).toMatchObject({ types: [{ type: "task", count: 0, defined: true }], quarantined: 2 })
    const list = await call("GET", "/api/quarantine")
    expect(list.status).toBe(200)
    expect(list.json.total).toBe(2)
    expect(list.json.docs.map((d: any) => d.id).sort()).toEqual([kept, dropped].sort())
    expect(list.json.docs[0]).toEqual({
      id: expect.any(String),
      type: "task",
      reason: expect.stringMatching(/its data does not match type task: .*title/),
      modifiedAt: expect.any(Number),
    })

    const shown = await call("GET", `/api/quarantine/${kept}`)
    expect(shown.status).toBe(200)
    expect(shown.json).toMatchObject({
      id: kept,
      type: "task",
      reason: expect.stringMatching(/title/),
      document: { id: kept, type: "task", data: { title: "a string title" } },
    })
    expect(shown.json.document.format).toBeUndefined()
    expect(shown.json.definition.fields.title).toEqual({ kind: "register", of: "number" })
    // Quarantined documents stay out of the type's list and cannot be read as documents.
    expect((await call("GET", "/api/docs?type=task")).json.docs).toEqual([])
    expect((await call("GET", `/api/docs/${kept}`)).status).toBe(409)

    const refused = await call("POST", `/api/quarantine/${kept}/release`)
    expect(refused.status).toBe(409)
    expect(refused.json.error).toMatch(/its data does not match type task: .*title.*\(still; it stays quarantined\)/)
    expect((await call("GET", "/api/quarantine")).json.total).toBe(2)

    const drop = await call("POST", `/api/quarantine/${dropped}/drop`)
    expect(drop.status).toBe(200)
    expect(drop.json).toEqual({ id: dropped, type: "task" })
    expect((await call("GET", `/api/quarantine/${dropped}`)).status).toBe(404)
    expect(peer.db.quarantined().map(q => q.id)).toEqual([kept])

    // With the definition changed to take a string title, the same release lets it in.
    peer.db.register(defineType("task", { fields: { title: f.string() } }))
    const released = await call("POST", `/api/quarantine/${kept}/release`)
    expect(released.status).toBe(200)
    expect(released.json.document).toMatchObject({ id: kept, type: "task", data: { title: "a string title" } })
    expect((await call("GET", "/api/quarantine")).json).toEqual({ total: 0, docs: [] })
    expect((await call("GET", "/api/overview")).json).toMatchObject({ types: [{ type: "task", count: 1, defined: true }], quarantined: 0 })
    expect((await call("GET", "/api/docs?type=task")).json.docs.map((d: any) => [d.id, d.summary])).toEqual([[kept, "a string title"]])
  })

  it("answers quarantine actions on documents that are not quarantined with 404, naming why", async () => {
    const { peer, call } = await served()
    const { id } = await peer.db.create(Task, { title: "fine" })
    const cases: [string, string, RegExp][] = [
      ["GET", `/api/quarantine/${id}`, /document .* is not quarantined/],
      ["POST", `/api/quarantine/${id}/release`, /document .* is not quarantined/],
      ["POST", `/api/quarantine/${id}/drop`, /document .* is not quarantined/],
      ["GET", "/api/quarantine/nope", /no document with id nope/],
      ["POST", "/api/quarantine/nope/drop", /no document with id nope/],
    ]
    for (const [method, path, message] of cases) {
      const response = await call(method, path)
      expect({ method, path, status: response.status, error: response.json?.error }).toEqual({
        method,
        path,
        status: 404,
        error: expect.stringMatching(message),
      })
    }
    expect((await call("GET", `/api/quarantine/${id}/release`)).status).toBe(405)
    expect((await call("GET", "/api/quarantine?limit=0")).status).toBe(400)
    expect((await peer.db.get(Task, id)).data.title).toBe("fine")
  })

  it("streams a quarantine, a release and a drop as Server-Sent Events", async () => {
    const { peer, base, address, call } = await served({}, [StrictTask])
    const { until } = await eventsOf(base)
    await until(/event: hello/)
    const [kept, dropped] = await sendStringTitledTasks(`ws://127.0.0.1:${address.port}`, ["one", "two"])
    for (const id of [kept, dropped])
      await until(
        new RegExp(
          `event: quarantine\ndata: {"id":"${id}","type":"task","state":"quarantined","reason":"its data does not match type task`,
        ),
      )
    await call("POST", `/api/quarantine/${dropped}/drop`)
    await until(new RegExp(`event: quarantine\ndata: {"id":"${dropped}","type":"task","state":"dropped"}`))
    peer.db.register(defineType("task", { fields: { title: f.string() } }))
    await call("POST", `/api/quarantine/${kept}/release`)
    await until(new RegExp(`event: quarantine\ndata: {"id":"${kept}","type":"task","state":"released"}`))
    // The released document arrives in its type like any other.
    await until(new RegExp(`event: change\ndata: {"id":"${kept}","type":"task"`))
  })

  it("serves the built page, and explains when there is none", async () => {
    const root = await tempDir("cairn-dashboard-static-")
    const staticDir = join(root, "public")
    await mkdir(join(staticDir, "assets"), { recursive: true })
    await writeFile(join(staticDir, "index.html"), "<!doctype html><title>Cairn</title>")
    await writeFile(join(staticDir, "assets", "app-1234.js"), "console.log(1)")
    await writeFile(join(root, "secret.txt"), "not for the browser")
    const { call, address } = await served({ staticDir })
    const page = await call("GET", "/")
    expect(page.status).toBe(200)
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'self'/)
    expect(page.text).toContain("<title>Cairn</title>")
    const asset = await call("GET", "/assets/app-1234.js")
    expect(asset.headers.get("content-type")).toMatch(/text\/javascript/)
    expect(asset.headers.get("cache-control")).toMatch(/immutable/)
    const host = { host: `127.0.0.1:${address.port}` }
    for (const path of [
      "/../secret.txt",
      "/..%2Fsecret.txt",
      "/assets/..%2F..%2Fsecret.txt",
      "/%2e%2e/secret.txt",
      "/missing.js",
      "/assets",
    ]) {
      const response = await rawGet(address.port, path, host)
      expect({ path, status: response.status, leaked: response.body.includes("not for the browser") }).toEqual({
        path,
        status: 404,
        leaked: false,
      })
    }

    const bare = await served({ staticDir: join(staticDir, "nothing-here") })
    const missing = await bare.call("GET", "/")
    expect(missing.status).toBe(503)
    expect(missing.text).toMatch(/not built.*npm run build/s)
  })

  it("finds the built page in its own package's dist/page", () => {
    const found = locateDashboard()
    expect(found).toMatch(/dashboard[\\/]dist[\\/]page$/)
    expect(locateDashboard(tmpdir())).toBeUndefined()
  })
})
