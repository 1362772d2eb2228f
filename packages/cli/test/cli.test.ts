/**
 * The `cairn` command, run as a child process (the built binary).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Dirs, cairn, json, startServe } from "./helpers.js"

const dirs = new Dirs()
afterAll(() => dirs.cleanup())

describe.concurrent("cairn", () => {
  it("init keeps the identity; whoami reports it", async () => {
    const data = ["--data", await dirs.make()]
    const first = await json([...data, "init", "--name", "laptop"])
    const again = await json([...data, "init"])
    expect(again.machineId).toBe(first.machineId)
    expect(await json([...data, "whoami"])).toEqual({ machineId: first.machineId, publicKey: first.publicKey, name: "laptop" })
    expect(first.machineId).toMatch(/^[0-9a-f]{32}$/)
  })

  it("create, get, set, unset, incr, text, rm, ls and history", async () => {
    const data = ["--data", await dirs.make()]
    const created = await cairn([
      ...data,
      "create",
      "task",
      '{"title": "Buy milk", "notes": {"$text": "oat"}, "votes": {"$counter": 1}, "tags": ["a", "b"], "meta": {"k": "v"}}',
    ])
    expect(created.code).toBe(0)
    const id = created.stdout.trim()
    const fromStdin = await json([...data, "create", "note"], '{"body": "from stdin"}')
    expect(fromStdin.type).toBe("note")

    const doc = await json([...data, "get", id])
    expect(Object.keys(doc).sort()).toEqual(["createdAt", "createdBy", "data", "deletedAt", "id", "modifiedAt", "type"])
    expect(doc.data).toEqual({ title: "Buy milk", notes: "oat", votes: 1, tags: ["a", "b"], meta: { k: "v" } })

    expect((await cairn([...data, "set", id, "title", "Buy oat milk"])).code).toBe(0)
    expect((await cairn([...data, "set", id, "meta.n", "42"])).code).toBe(0)
    expect((await cairn([...data, "set", id, "tags.1", '"c"'])).code).toBe(0)
    expect((await cairn([...data, "unset", id, "tags.0"])).code).toBe(0)
    expect((await cairn([...data, "unset", id, "meta.k"])).code).toBe(0)
    expect((await cairn([...data, "incr", id, "votes", "--", "-3"])).code).toBe(0)
    expect((await cairn([...data, "incr", id, "votes"])).code).toBe(0)
    expect((await cairn([...data, "text", id, "notes", "--splice", "0", "0", "two litres of "])).code).toBe(0)
    // A string set on text keeps it text: a later splice still works.
    expect((await cairn([...data, "text", id, "notes", "--splice", "0", "3", "TWO"])).code).toBe(0)
    const changed = await json([...data, "get", id])
    expect(changed.data).toEqual({ title: "Buy oat milk", notes: "TWO litres of oat", votes: -1, tags: ["c"], meta: { n: 42 } })
    expect(changed.modifiedAt).toBeGreaterThanOrEqual(doc.modifiedAt)

    const history = await json([...data, "history", id])
    expect(history.length).toBe(10)
    expect(Object.keys(history[0]).sort()).toEqual(["hash", "machineId", "message", "time"])
    expect(history[0].machineId).toBe(changed.createdBy)

    const listed = await json([...data, "ls"])
    expect(listed.map((d: { id: string }) => d.id)).toEqual([id, fromStdin.id].sort(a => (a === id ? -1 : 1)))
    expect((await json([...data, "ls", "--type", "note"])).length).toBe(1)
    expect((await cairn([...data, "rm", id])).code).toBe(0)
    expect((await json([...data, "ls", "--type", "task"])).length).toBe(0)
    const deleted = await json([...data, "ls", "--type", "task", "--deleted"])
    expect(deleted[0].deletedAt).toBeGreaterThan(0)
  })

  it("bad input: exit codes and one-line errors", async () => {
    const data = ["--data", await dirs.make()]
    const id = (await cairn([...data, "create", "task", '{"title": "x", "notes": {"$text": "abc"}}'])).stdout.trim()
    const cases: [string[], number, RegExp][] = [
      [["get", "3vVsGd9VWHZQtSNHpkrYPcZSVd9G"], 1, /no document with id/],
      [["create", "Task", "{}"], 2, /invalid type name/],
      [["create", "task", "{not json"], 2, /not valid JSON/],
      [["create", "task", "[1]"], 2, /must be a JSON object/],
      [["bogus"], 2, /unknown command/],
      [["ls", "--bogus"], 2, /unknown option/],
      [["incr", id, "title"], 1, /not a counter/],
      [["text", id, "notes", "--splice", "10", "0", "x"], 1, /outside the text/],
      [["text", id, "title", "--splice", "0", "0", "x"], 1, /not text/],
      [["set", id, "notes.0", '"x"'], 1, /notes is text, not a map or list/],
      [["set", id, "title.a", "1"], 1, /title is a register/],
      [["import", "/nonexistent/export"], 1, /not a Cairn export/],
    ]
    for (const [args, code, message] of cases) {
      const run = await cairn([...data, ...args])
      expect(run.code, args.join(" ")).toBe(code)
      expect(run.stderr.trim().split("\n").length, args.join(" ")).toBe(1)
      expect(run.stderr, args.join(" ")).toMatch(/^cairn: /)
      expect(run.stderr, args.join(" ")).toMatch(message)
    }
    expect((await json([...data, "get", id])).data).toEqual({ title: "x", notes: "abc" })
  })

  it("set refuses to change a value's kind where no definition says what it is, unless --force-kind", async () => {
    const data = ["--data", await dirs.make()]
    const id = (
      await cairn([
        ...data,
        "create",
        "task",
        '{"title": "t", "notes": {"$text": "abc"}, "votes": {"$counter": 2}, "tags": ["a"], "meta": {"k": "v"}}',
      ])
    ).stdout.trim()
    const before = await json([...data, "get", id])
    const refusals: [string, string, RegExp][] = [
      [
        "votes",
        "abc",
        /^cairn: refusing to replace a counter with a register, which would change its kind \(at votes\); give --force-kind to replace it anyway$/,
      ],
      ["notes", '{"$counter": 1}', /text with a counter.*\(at notes\)/],
      ["tags", '"x"', /a list with a register.*\(at tags\)/],
      ["meta", "5", /a map with a register.*\(at meta\)/],
      ["meta.k", '{"$text": "v"}', /a register with text.*\(at meta\.k\)/],
      ["title", '["x"]', /a register with a list.*\(at title\)/],
    ]
    for (const [path, value, message] of refusals) {
      const run = await cairn([...data, "set", id, path, value])
      expect(run.code, `set ${path} ${value}`).toBe(1)
      expect(run.stderr.trim(), `set ${path} ${value}`).toMatch(message)
    }
    expect(await json([...data, "get", id])).toEqual(before)

    // The same kind is no change of kind: a counter for a counter, a string for text (it stays text), any scalar for a register.
    for (const [path, value] of [
      ["votes", '{"$counter": 5}'],
      ["notes", "new notes"],
      ["title", "42"],
      ["tags", '["b"]'],
      ["meta", '{"n": 1}'],
      ["extra", '{"$counter": 0}'],
    ]) {
      expect((await cairn([...data, "set", id, path!, value!])).code, `set ${path} ${value}`).toBe(0)
    }
    expect((await cairn([...data, "text", id, "notes", "--splice", "0", "3", "New"])).code).toBe(0)
    expect((await json([...data, "get", id])).data).toEqual({
      title: 42,
      notes: "New notes",
      votes: 5,
      tags: ["b"],
      meta: { n: 1 },
      extra: 0,
    })

    expect((await cairn([...data, "set", id, "votes", "abc", "--force-kind"])).code).toBe(0)
    expect((await json([...data, "get", id])).data.votes).toBe("abc")
    expect((await cairn([...data, "incr", id, "votes"])).stderr).toMatch(/votes is not a counter/)
    expect((await cairn(["set", "--help"])).stdout).toMatch(/--force-kind/)
  })

  it("refuses an unknown $ tag in create, set and import, naming the tag and where it is", async () => {
    const data = ["--data", await dirs.make()]
    const created = await cairn([...data, "create", "task", '{"title": {"$weird": 1}}'])
    expect(created.code).toBe(1)
    expect(created.stderr.trim()).toBe('cairn: unknown tag "$weird": tagged JSON knows "$text", "$counter" and "$map" (at title)')
    expect(await json([...data, "ls"])).toEqual([])

    const id = (
      await cairn([...data, "create", "task", '{"title": "t", "meta": {"k": "v"}, "odd": {"$map": {"$weird": 1}}}'])
    ).stdout.trim()
    for (const [path, value, at] of [
      ["title", '{"$weird": 1}', "title"],
      ["meta", '{"a": {"$txt": "x"}}', "meta.a"],
      ["meta.k", '[{"$Counter": 1}]', "meta.k.0"],
    ]) {
      for (const force of [[], ["--force-kind"]]) {
        const run = await cairn([...data, "set", id, path!, value!, ...force])
        expect(run.code, `set ${path} ${value} ${force}`).toBe(1)
        expect(run.stderr, `set ${path} ${value} ${force}`).toMatch(
          new RegExp(`unknown tag ".+".*\\(at ${at!.replaceAll(".", "\\.")}\\)$`, "m"),
        )
      }
    }
    // Wrapped in "$map", a key that looks like a tag is a key, and it survives an export and an import.
    expect((await json([...data, "get", id])).data).toEqual({ title: "t", meta: { k: "v" }, odd: { $weird: 1 } })
    const out = join(await dirs.make(), "export")
    await json([...data, "export", out])
    const file = join(out, "task", `${id}.json`)
    const exported = JSON.parse(await readFile(file, "utf8"))
    expect(exported.data.odd).toEqual({ $map: { $weird: 1 } })
    const copy = ["--data", await dirs.make()]
    expect(await json([...copy, "import", out])).toMatchObject({ created: 1, merged: 0, changed: 0, unchanged: 0 })
    expect((await json([...copy, "get", id])).data.odd).toEqual({ $weird: 1 })

    await writeFile(file, JSON.stringify({ ...exported, data: { ...exported.data, odd: { $weird: 1 } } }))
    const refused = await cairn(["--data", await dirs.make(), "import", out])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(new RegExp(`task/${id}\\.json: unknown tag "\\$weird".*\\(at odd\\)`))
  })

  it("export and import round trip into a fresh directory, twice creates nothing new", async () => {
    const source = ["--data", await dirs.make()]
    const id = (
      await cairn([...source, "create", "task", '{"title": "t", "notes": {"$text": "text"}, "votes": {"$counter": 3}}'])
    ).stdout.trim()
    await cairn([...source, "create", "note", '{"body": {"$text": "hello"}}'])
    const out = join(await dirs.make(), "export")
    expect((await json([...source, "export", out])).exported).toBe(2)
    const exported = JSON.parse(await readFile(join(out, "task", `${id}.json`), "utf8"))
    expect(exported.data.notes).toEqual({ $text: "text" })
    expect(exported.data.votes).toEqual({ $counter: 3 })

    const target = ["--data", await dirs.make()]
    expect(await json([...target, "import", out])).toEqual({ created: 2, merged: 0, changed: 0, unchanged: 0, newIds: [] })
    expect(await json([...target, "import", out])).toEqual({ created: 0, merged: 0, changed: 0, unchanged: 2, newIds: [] })
    const copy = await json([...target, "get", id])
    expect(copy.data).toEqual((await json([...source, "get", id])).data)
    // Kinds are kept: the imported text still takes a splice, the counter an increment.
    expect((await cairn([...target, "text", id, "notes", "--splice", "0", "0", ">"])).code).toBe(0)
    expect((await cairn([...target, "incr", id, "votes"])).code).toBe(0)
  })

  it("refuses an export whose manifest points outside it, and an unreadable one", async () => {
    const data = ["--data", await dirs.make()]
    const out = await dirs.make()
    await writeFile(join(out, "manifest.json"), JSON.stringify({ format: "cairn.export/1", documents: [{ file: "../../etc/passwd" }] }))
    const escaped = await cairn([...data, "import", out])
    expect(escaped.code).toBe(1)
    expect(escaped.stderr).toMatch(/outside/)
    await mkdir(join(out, "task"), { recursive: true })
    await writeFile(join(out, "task", "x.json"), "{ not json")
    await writeFile(join(out, "manifest.json"), JSON.stringify({ format: "cairn.export/1", documents: [{ file: "task/x.json" }] }))
    const bad = await cairn([...data, "import", out])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/not valid JSON/)
    expect(await json([...data, "ls"])).toEqual([])
  })

  it("goes through a running server on the same directory, and syncs with another", async () => {
    const serverDir = await dirs.make()
    const server = await startServe(["--data", serverDir])
    try {
      expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
      const created = await json(["--data", serverDir, "create", "task", '{"title": "through the server"}'])
      expect((await json(["--data", serverDir, "get", created.id])).data.title).toBe("through the server")

      const client = ["--data", await dirs.make()]
      await cairn([...client, "create", "task", '{"title": "from the client"}'])
      await cairn([...client, "create", "note", '{"body": "note"}'])
      const counts = await json([...client, "sync", server.url])
      expect(counts).toEqual({ sent: 2, received: 1, documents: 3, quarantined: [], denied: [] })
      expect((await json(["--data", serverDir, "ls"])).length).toBe(3)

      // --types: a peer that syncs only notes gets only the note.
      const notesOnly = ["--data", await dirs.make()]
      await json([...notesOnly, "sync", server.url, "--types", "note"])
      expect((await json([...notesOnly, "ls"])).map((d: { type: string }) => d.type)).toEqual(["note"])

      const started = Date.now()
      const refused = await cairn([...client, "sync", "ws://127.0.0.1:9"])
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(/cannot connect/)
      expect(Date.now() - started).toBeLessThan(15_000)
    } finally {
      await server.stop()
    }
  })

  it("trust, peers and untrust; serve refuses --open on a public interface without --insecure", async () => {
    const data = ["--data", await dirs.make()]
    const other = await json(["--data", await dirs.make(), "whoami"])
    const trusted = await json([...data, "trust", other.publicKey, "--name", "phone", "--read", "task,note", "--write", "task"])
    expect(trusted).toMatchObject({ machineId: other.machineId, name: "phone", read: ["task", "note"], write: ["task"] })
    const peers = await json([...data, "peers"])
    expect(peers).toEqual([expect.objectContaining({ machineId: other.machineId, name: "phone", lastSeen: null, connected: false })])
    expect((await cairn([...data, "trust", "not-a-key", "--read", "*"])).code).toBe(1)
    expect((await cairn([...data, "trust", other.publicKey, "--read", "Bad Type"])).code).toBe(2)
    expect((await cairn([...data, "untrust", other.publicKey])).code).toBe(0)
    expect(await json([...data, "peers"])).toEqual([])
    const open = await cairn([...data, "serve", "--open", "--host", "0.0.0.0", "--port", "0"])
    expect(open.code).toBe(2)
    expect(open.stderr).toMatch(/--insecure/)
  })

  it("--help says what each command does, with an example", async () => {
    for (const command of ["create", "set", "text", "serve", "sync", "export", "trust"]) {
      const help = await cairn([command, "--help"])
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(/Example:/)
    }
  })
})
