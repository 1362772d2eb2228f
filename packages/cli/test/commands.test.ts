/**
 * The commands a user meets in the first hour: restore and purge, change
 * messages, reading a document at a change, output for people, and a sync
 * that says when the other peer refused what was written here.
 */
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Dirs, cairn, json, startServe } from "./helpers.js"

const dirs = new Dirs()
afterAll(() => dirs.cleanup())

/** The time format of the human output: UTC to the second. */
const utc = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "Z")

/** Expect a failure: the exit code, and one line on stderr that matches. */
async function fails(args: string[], code: number, message: RegExp): Promise<void> {
  const run = await cairn(args)
  expect(run.code, args.join(" ")).toBe(code)
  expect(run.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1)
  expect(run.stderr.trim(), args.join(" ")).toMatch(message)
}

describe.concurrent("commands", () => {
  it("restore undoes rm; purge drops a deleted document for good; each says what was wrong", async () => {
    const data = ["--data", await dirs.make()]
    const id = (await cairn([...data, "create", "task", '{"title": "t"}'])).stdout.trim()
    const unknown = "3vVsGd9VWHZQtSNHpkrYPcZSVd9G"

    await fails([...data, "restore", id], 1, new RegExp(`^cairn: document ${id} is not deleted; there is nothing to restore$`))
    await fails(
      [...data, "purge", id],
      1,
      new RegExp(`^cairn: document ${id} is not deleted; delete it first \\(cairn rm ${id}\\), then purge it$`),
    )
    await fails([...data, "restore", unknown], 1, /^cairn: no document with id 3vVsGd9VWHZQtSNHpkrYPcZSVd9G$/)
    await fails([...data, "purge", unknown], 1, /^cairn: no document with id 3vVsGd9VWHZQtSNHpkrYPcZSVd9G$/)
    await fails([...data, "purge"], 2, /missing required argument/)

    expect((await cairn([...data, "rm", id])).code).toBe(0)
    expect(await json([...data, "restore", id])).toEqual({ id, restored: true })
    expect((await json([...data, "get", id])).deletedAt).toBeNull()
    expect((await json([...data, "ls"])).map((d: { id: string }) => d.id)).toEqual([id])

    expect((await cairn([...data, "rm", id])).code).toBe(0)
    expect(await json([...data, "purge", id])).toEqual({ id, purged: true })
    await fails([...data, "get", id], 1, /was purged/)
    await fails([...data, "purge", id], 1, new RegExp(`^cairn: document ${id} is already purged$`))
    await fails([...data, "restore", id], 1, new RegExp(`^cairn: document ${id} was purged; its body no longer exists$`))
    expect(await json([...data, "ls", "--deleted"])).toEqual([])

    for (const command of ["purge", "restore", "get", "history"]) {
      const help = await cairn([command, "--help"])
      expect(help.stdout, command).toMatch(/Example:\n {2}cairn /)
    }
  })

  it("--message on every write is what history shows", async () => {
    const data = ["--data", await dirs.make()]
    const id = (
      await cairn([
        ...data,
        "create",
        "task",
        '{"title": "t", "notes": {"$text": "n"}, "votes": {"$counter": 0}, "tags": ["a"]}',
        "-m",
        "made",
      ])
    ).stdout.trim()
    const writes: [string[], string][] = [
      [["set", id, "title", "u", "--message", "renamed"], "renamed"],
      [["unset", id, "tags.0", "-m", "untagged"], "untagged"],
      [["incr", id, "votes", "-m", "voted"], "voted"],
      [["text", id, "notes", "--splice", "0", "0", ">", "-m", "annotated"], "annotated"],
      [["rm", id, "-m", "gone"], "gone"],
      [["restore", id, "-m", "back"], "back"],
    ]
    for (const [args] of writes) expect((await cairn([...data, ...args])).code, args.join(" ")).toBe(0)

    // An import writes changes where the JSON was edited after the export: they carry the message too.
    const out = join(await dirs.make(), "export")
    await json([...data, "export", out])
    const file = join(out, "task", `${id}.json`)
    const exported = JSON.parse(await readFile(file, "utf8"))
    await writeFile(file, JSON.stringify({ ...exported, data: { ...exported.data, title: "edited" } }))
    expect((await json([...data, "import", out, "-m", "from the backup"])).changed).toBe(1)

    const history = await json([...data, "history", id])
    expect(history.map((change: { message: string | null }) => change.message)).toEqual([
      "made",
      ...writes.map(([, message]) => message),
      "from the backup",
    ])
    const shown = (await cairn([...data, "history", id])).stdout
    expect(shown).toMatch(/^HASH {10}TIME {18}MACHINE {7}MESSAGE$/m)
    expect(shown).toMatch(
      new RegExp(`^${history[1].hash.slice(0, 12)}  ${utc(history[1].time)}  ${history[1].machineId.slice(0, 12)}  renamed$`, "m"),
    )

    // The body of a purged document goes with its history, so purge has no message to keep.
    expect((await cairn([...data, "rm", id])).code).toBe(0)
    await fails([...data, "purge", id, "-m", "why"], 2, /unknown option '-m'/)
  })

  it("get --at shows the document as it was at a change, by its hash or a unique prefix", async () => {
    const data = ["--data", await dirs.make()]
    const id = (await cairn([...data, "create", "task", '{"title": "first", "votes": {"$counter": 1}}'])).stdout.trim()
    expect((await cairn([...data, "set", id, "title", "second"])).code).toBe(0)
    expect((await cairn([...data, "incr", id, "votes"])).code).toBe(0)
    const [created, renamed] = await json([...data, "history", id])

    const atCreation = await json([...data, "get", id, "--at", created.hash])
    expect(Object.keys(atCreation).sort()).toEqual(["createdAt", "createdBy", "data", "deletedAt", "id", "modifiedAt", "type"])
    expect(atCreation).toMatchObject({ id, type: "task", modifiedAt: created.time, data: { title: "first", votes: 1 } })
    expect((await json([...data, "get", id, "--at", renamed.hash.slice(0, 12)])).data).toEqual({ title: "second", votes: 1 })
    expect((await json([...data, "get", id])).data).toEqual({ title: "second", votes: 2 })

    const shown = (await cairn([...data, "get", id, "--at", created.hash.slice(0, 12)])).stdout
    expect(shown).toMatch(new RegExp(`^at change +${created.hash} \\(the document as it was then\\)$`, "m"))
    expect(shown).toContain('"votes": { "$counter": 1 }')

    const other = (await cairn([...data, "create", "task", '{"title": "other"}'])).stdout.trim()
    const [elsewhere] = await json([...data, "history", other])
    await fails(
      [...data, "get", id, "--at", elsewhere.hash],
      1,
      new RegExp(`^cairn: document ${id} has no change ${elsewhere.hash}; cairn history ${id} lists its changes$`),
    )
    await fails([...data, "get", id, "--at", "0000"], 1, /has no change 0000/)
    await fails(
      [...data, "get", id, "--at", "HEAD"],
      2,
      /^cairn: --at takes a change hash from cairn history \(4 to 64 hex characters\), got "HEAD"$/,
    )
  })

  it("get, ls, history, peers and status print for people: aligned, with UTC times; --json is unchanged", async () => {
    const data = ["--data", await dirs.make()]
    await cairn([...data, "init", "--name", "laptop"])
    const id = (
      await cairn([
        ...data,
        "create",
        "task",
        '{"title": "Buy milk", "notes": {"$text": "oat"}, "votes": {"$counter": 1}, "tags": ["a", "b"]}',
      ])
    ).stdout.trim()
    const doc = await json([...data, "get", id])
    expect(doc.data).toEqual({ title: "Buy milk", notes: "oat", votes: 1, tags: ["a", "b"] })
    const me = await json([...data, "whoami"])
    const epoch = /\b1\d{12}\b/

    const got = (await cairn([...data, "get", id])).stdout
    expect(got).toBe(
      [
        `id        ${id}`,
        "type      task",
        `created   ${utc(doc.createdAt)} by ${me.machineId.slice(0, 12)} (laptop)`,
        `modified  ${utc(doc.modifiedAt)}`,
        "data",
        "  {",
        '    "notes": { "$text": "oat" },',
        '    "tags": ["a", "b"],',
        '    "title": "Buy milk",',
        '    "votes": { "$counter": 1 }',
        "  }",
        "",
      ].join("\n"),
    )

    const note = (await cairn([...data, "create", "note", '{"body": "x"}'])).stdout.trim()
    await cairn([...data, "rm", note])
    const listed = (await cairn([...data, "ls", "--deleted"])).stdout.trim().split("\n")
    const idWidth = Math.max(id.length, note.length)
    expect(listed[0]).toBe(`${"ID".padEnd(idWidth)}  TYPE  MODIFIED              DELETED               DATA`)
    expect(listed).toHaveLength(3)
    expect(listed.find(line => line.startsWith(id))).toBe(
      `${id.padEnd(idWidth)}  task  ${utc(doc.modifiedAt)}  ${" ".repeat(20)}  {"notes":"oat","tags":["a","b"],"title":"Buy milk","votes":…`,
    )
    expect(listed.find(line => line.startsWith(note))).toMatch(new RegExp(`^${note} +note  \\S+ \\S+Z  \\S+ \\S+Z  \\{"body":"x"\\}$`))
    expect((await cairn(["--data", await dirs.make(), "ls"])).stdout).toBe("no documents\n")

    const history = (await cairn([...data, "history", id])).stdout
    expect(history).toMatch(new RegExp(`^[0-9a-f]{12}  ${utc(doc.createdAt)}  ${me.machineId.slice(0, 12)} \\(laptop\\)$`, "m"))

    const phone = await json(["--data", await dirs.make(), "whoami"])
    await json([...data, "trust", phone.publicKey, "--name", "phone", "--read", "task,note", "--write", "task"])
    // --name there names the machine trusted, not this one.
    expect((await json([...data, "whoami"])).name).toBe("laptop")
    expect((await cairn([...data, "peers"])).stdout).toBe(
      [
        "MACHINE                           NAME   READ       WRITE  CONNECTED  LAST SEEN",
        `${phone.machineId}  phone  task,note  task   no         never`,
        "",
      ].join("\n"),
    )
    const status = (await cairn([...data, "status"])).stdout
    expect(status).toMatch(new RegExp(`^machine +${me.machineId} \\(laptop\\)$`, "m"))
    expect(status).toMatch(/^documents +note 0, task 1$/m)
    expect(status).toMatch(new RegExp(`^ {2}${phone.machineId}  phone  task,note  task   no         never$`, "m"))

    for (const output of [got, listed.join("\n"), history, status]) expect(output).not.toMatch(epoch)
    expect(await json([...data, "peers"])).toEqual([
      expect.objectContaining({ machineId: phone.machineId, lastSeen: null, connected: false }),
    ])
    expect((await json([...data, "history", id]))[0]).toEqual({
      hash: expect.any(String),
      machineId: me.machineId,
      time: doc.createdAt,
      message: null,
    })
  })

  it("sync reports the changes a server refused for lack of a write grant, and exits 4", { timeout: 120_000 }, async () => {
    const serverDir = await dirs.make()
    const server = ["--data", serverDir]
    const client = ["--data", await dirs.make()]
    const task = (await cairn([...server, "create", "task", '{"title": "from the server"}'])).stdout.trim()
    const { publicKey } = await json([...client, "whoami"])
    await json([...server, "trust", publicKey, "--name", "phone", "--read", "task,note", "--write", "note"])
    const serve = await startServe(server, [])
    try {
      expect(await json([...client, "sync", serve.url])).toMatchObject({ received: 1, quarantined: [], denied: [] })

      expect((await cairn([...client, "set", task, "title", "from the phone"])).code).toBe(0)
      const note = (await cairn([...client, "create", "note", '{"body": "allowed"}'])).stdout.trim()
      const refused = await cairn([...client, "sync", serve.url, "--json"])
      expect(refused.code).toBe(4)
      const result = JSON.parse(refused.stdout)
      expect(result.denied).toEqual([{ id: task, type: "task", reason: "this peer may not write documents of these types here" }])
      expect(result.quarantined).toEqual([])
      expect(refused.stderr.trim().split("\n")).toEqual([
        `cairn: the other peer refused this peer's changes to 1 document(s), which it neither applied nor passed on: ${task} (task): this peer may not write documents of these types here`,
      ])
      expect((await json([...server, "get", task])).data.title).toBe("from the server")
      expect((await json([...server, "get", note])).data.body).toBe("allowed")

      // Without --json: no "in sync" for a sync that lost a change.
      expect((await cairn([...client, "set", task, "title", "again"])).code).toBe(0)
      const told = await cairn([...client, "sync", serve.url])
      expect(told.code).toBe(4)
      expect(told.stdout.trim()).toMatch(
        /^not in sync: the other peer refused changes to 1 document\(s\); sent \d+, received \d+; 2 documents here$/,
      )
      expect(told.stderr).toContain(`${task} (task): this peer may not write`)
    } finally {
      await serve.stop()
    }
  })
})
