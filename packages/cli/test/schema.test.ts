/**
 * `cairn schema check` on pairs of definition files with known answers: the
 * exit code a CI acts on (0, 1, 2; 3 for a file that is not a definition),
 * the per-field report, and its JSON form.
 */
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cairn, Dirs, json, startServe, until } from "./helpers.js"

const dirs = new Dirs()
const stops: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const stop of stops) await stop()
  await dirs.cleanup()
})

const task = (version: number, fields: Record<string, unknown>) => ({ name: "task", version, fields })
const title = { kind: "register", of: "string" }

async function check(old: unknown, next: unknown, json = false) {
  const dir = await dirs.make()
  const [a, b] = [join(dir, "old.json"), join(dir, "new.json")]
  await writeFile(a, typeof old === "string" ? old : JSON.stringify(old))
  await writeFile(b, typeof next === "string" ? next : JSON.stringify(next))
  return cairn(["schema", "check", a, b, ...(json ? ["--json"] : [])])
}

describe("cairn schema check", () => {
  it.each([
    ["an optional field added", 0, task(2, { title, due: { ...title, optional: true } })],
    ["a field with a default added", 0, task(2, { title, priority: { kind: "register", of: "number", default: 0 } })],
    ["a renamed field", 1, task(2, { name: title })],
    ["a kind changed", 1, task(2, { title: { kind: "text" } })],
    [
      "a rename with its lens declared",
      0,
      { ...task(2, { name: title }), lenses: [{ from: 1, to: 2, ops: [{ op: "rename", from: ["title"], to: ["name"] }] }] },
    ],
    [
      "a kind change with its lens declared",
      0,
      {
        ...task(2, { title: { kind: "register", of: "number" } }),
        lenses: [{ from: 1, to: 2, ops: [{ op: "convert", path: ["title"], from: "string", to: "number" }] }],
      },
    ],
    [
      "a string register made text with its lens declared",
      0,
      {
        ...task(2, { title: { kind: "text" } }),
        lenses: [{ from: 1, to: 2, ops: [{ op: "convert", path: ["title"], from: "string", to: "text" }] }],
      },
    ],
    [
      "a lens that does not cover the change (a rename declared, the field made a number too)",
      1,
      {
        ...task(2, { name: { kind: "register", of: "number" } }),
        lenses: [{ from: 1, to: 2, ops: [{ op: "rename", from: ["title"], to: ["name"] }] }],
      },
    ],
    ["a change that needs a lens without a new version", 2, task(1, { name: title })],
    ["another type", 2, { name: "note", version: 2, fields: { title } }],
  ])("%s: exit code %i", async (_, code, next) => {
    const run = await check(task(1, { title }), next)
    expect(run.code, run.stderr).toBe(code)
  })

  it("prints the verdict per field, and JSON with --json", async () => {
    const human = await check(task(1, { title }), task(2, { name: title, due: { ...title, optional: true } }))
    expect(human.stdout).toMatch(/^task: version 1 → 2: needs a lens$/m)
    expect(human.stdout).toMatch(/^title\s+removed\s+needs a lens\s+the old version requires it/m)
    expect(human.stdout).toMatch(/^due\s+added\s+compatible/m)
    expect(human.stderr).toBe("cairn: task 1 → 2: needs a lens\n")
    const json = await check(task(1, { title }), task(2, { title, due: { ...title, optional: true } }), true)
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({
      type: "task",
      from: 1,
      to: 2,
      verdict: "compatible",
      fields: [{ path: "due", change: "added", verdict: "compatible" }],
    })
  })

  it("marks a change its lens covers as compatible through the lens", async () => {
    const lensed = { ...task(2, { name: title }), lenses: [{ from: 1, to: 2, ops: [{ op: "rename", from: ["title"], to: ["name"] }] }] }
    const human = await check(task(1, { title }), lensed)
    expect(human.stdout).toMatch(/^task: version 1 → 2: compatible$/m)
    expect(human.stdout).toMatch(/^name\s+added\s+compatible \(lens\)\s+compatible with the declared lens/m)
    const json = await check(task(1, { title }), lensed, true)
    expect(JSON.parse(json.stdout).fields).toContainEqual(expect.objectContaining({ path: "title", verdict: "compatible", lens: true }))
  })

  it("exits 3 naming the file when a definition cannot be read", async () => {
    const broken = await check(task(1, { title }), "{ not json")
    expect(broken.code).toBe(3)
    expect(broken.stderr).toMatch(/new\.json is not a type definition/)
    const invalid = await check(task(1, { title }), task(2, { title: { kind: "telepathy" } }))
    expect(invalid.code).toBe(3)
    expect(invalid.stderr).toMatch(/not a type definition/)
    const badLens = await check(task(1, { title }), {
      ...task(2, { title }),
      lenses: [{ from: 1, to: 2, ops: [{ op: "run", code: "x" }] }],
    })
    expect(badLens.code).toBe(3)
    expect(badLens.stderr).toMatch(/unknown lens operation "run"/)
  })

  it("cairn peers names a connected machine whose definition of a type cannot live beside this one's", async () => {
    const [desk, phone] = [await dirs.make(), await dirs.make()]
    await writeFile(join(desk, "types.json"), JSON.stringify([task(1, { title })]))
    await writeFile(join(phone, "types.json"), JSON.stringify([task(3, { name: title })]))
    await json(["--data", desk, "init", "--name", "desk"])
    await json(["--data", phone, "init", "--name", "phone"])
    const server = await startServe(["--data", desk])
    stops.push(server.stop)
    const client = await startServe(["--data", phone], ["--open", "--connect", server.url])
    stops.push(client.stop)
    const rows = await until(async () => {
      const listed = await json(["--data", desk, "peers"])
      return listed.find((row: { schemas?: unknown[] }) => row.schemas?.length) ? listed : undefined
    })
    const row = rows.find((r: { name: string }) => r.name === "phone")
    expect(row.schemas).toEqual([expect.objectContaining({ type: "task", localVersion: 1, remoteVersion: 3, verdict: "needs a lens" })])
    const human = await cairn(["--data", desk, "peers"])
    expect(human.stdout).toContain(
      "warning: phone defines task as version 3, this peer as version 1: needs a lens (title removed; name added)",
    )
  })

  it("a relay with no app code knows version 2's fields from the definition published when the desk opened, and create applies its defaults", async () => {
    const [desk, relay] = [await dirs.make(), await dirs.make()]
    const v2 = {
      ...task(2, { name: title, priority: { kind: "register", of: "number", default: 0 } }),
      lenses: [{ from: 1, to: 2, ops: [{ op: "rename", from: ["title"], to: ["name"] }] }],
    }
    await writeFile(join(desk, "types.json"), JSON.stringify([v2]))
    await json(["--data", desk, "init", "--name", "desk"])
    await json(["--data", relay, "init", "--name", "relay"])
    // Opening the desk with its types.json published them: publishing by hand finds nothing left to do.
    expect(await json(["--data", desk, "schema", "publish"])).toEqual([])
    const server = await startServe(["--data", relay])
    stops.push(server.stop)
    await json(["--data", desk, "sync", server.url])
    const [listed] = await json(["--data", relay, "schema", "list"])
    expect(listed).toMatchObject({ type: "task", version: 2, fields: v2.fields, lenses: v2.lenses })
    const made = await json(["--data", relay, "create", "task", '{"name": "made on the relay"}'])
    expect(made.data).toEqual({ name: "made on the relay", priority: 0 })
  })
})
