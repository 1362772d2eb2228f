/**
 * The README's backup recipe across processes: export on one machine,
 * import on another, sync the two; then the export edited by hand, an export
 * without histories, and exports that are not what they claim.
 */
import { readFile, rm, symlink, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Dirs, cairn, json, startServe } from "./helpers.js"

const dirs = new Dirs()
afterAll(() => dirs.cleanup())

describe("export and import", () => {
  it("a backup restored on another machine is the same documents: sync converges, nothing is quarantined, across restarts", {
    timeout: 90_000,
  }, async () => {
    const laptop = ["--data", await dirs.make()]
    const phone = ["--data", await dirs.make()]
    const backup = join(await dirs.make(), "backup")
    const task = (
      await cairn([...laptop, "create", "task", '{"title": "Buy milk", "votes": {"$counter": 1}, "notes": {"$text": "oat"}}'])
    ).stdout.trim()
    const note = (await cairn([...laptop, "create", "note", '{"body": {"$text": "keep me"}}'])).stdout.trim()
    expect((await cairn([...laptop, "export", backup])).code).toBe(0)
    const imported = await json([...phone, "import", backup])
    expect(imported).toMatchObject({ created: 2, merged: 0, changed: 0, unchanged: 0, newIds: [] })
    // Both go on before they meet.
    expect((await cairn([...laptop, "incr", task, "votes"])).code).toBe(0)
    expect((await cairn([...phone, "text", task, "notes", "--splice", "0", "0", "two litres of "])).code).toBe(0)

    const server = await startServe(laptop)
    try {
      const synced = await cairn([...phone, "sync", server.url, "--json"])
      expect(synced.stderr).toBe("")
      expect(synced.code).toBe(0)
      const onLaptop = await json([...laptop, "ls"])
      expect(onLaptop.map((d: { id: string }) => d.id).sort()).toEqual([task, note].sort())
      expect((await json([...laptop, "get", task])).data).toMatchObject({ title: "Buy milk", votes: 2, notes: "two litres of oat" })
    } finally {
      await server.stop()
    }
    for (const side of [laptop, phone]) {
      const listed = await json([...side, "ls"])
      expect(listed.map((d: { id: string }) => d.id).sort()).toEqual([task, note].sort())
      expect((await json([...side, "get", task])).data).toMatchObject({ votes: 2, notes: "two litres of oat" })
    }
    // Importing the same backup again changes nothing.
    expect(await json([...phone, "import", backup])).toMatchObject({ created: 0, merged: 0, changed: 0 })
  })

  it("an export edited by hand imports as changes on top; JSON without a history becomes a new document, and says so", {
    timeout: 60_000,
  }, async () => {
    const data = ["--data", await dirs.make()]
    const backup = join(await dirs.make(), "backup")
    const id = (await cairn([...data, "create", "task", '{"title": "Before"}'])).stdout.trim()
    await cairn([...data, "export", backup])
    const file = join(backup, "task", `${id}.json`)
    const exported = JSON.parse(await readFile(file, "utf8"))
    await writeFile(file, JSON.stringify({ ...exported, data: { ...exported.data, title: "Edited in the file" } }))
    expect(await json([...data, "import", backup])).toMatchObject({ changed: 1 })
    expect((await json([...data, "get", id])).data.title).toBe("Edited in the file")

    // An export of the old format (JSON only) into an empty directory.
    const elsewhere = ["--data", await dirs.make()]
    const manifest = JSON.parse(await readFile(join(backup, "manifest.json"), "utf8"))
    await writeFile(
      join(backup, "manifest.json"),
      JSON.stringify({
        ...manifest,
        format: "cairn.export/1",
        documents: manifest.documents.map(({ history: _, ...rest }: { history: string }) => rest),
      }),
    )
    const run = await cairn([...elsewhere, "import", backup])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(new RegExp(`${id} had no history in the export: imported as a new document [0-9A-Za-z]+`))
    const listed = await json([...elsewhere, "ls"])
    expect(listed).toHaveLength(1)
    expect(listed[0].id).not.toBe(id)
  })

  it("refuses an export into a folder that is not empty, links out of an export, and invalid UTF-8", { timeout: 60_000 }, async () => {
    const data = ["--data", await dirs.make()]
    const id = (await cairn([...data, "create", "task", '{"title": "x"}'])).stdout.trim()
    const busy = await dirs.make()
    await writeFile(join(busy, "keep.txt"), "mine")
    const refused = await cairn([...data, "export", busy])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/is not empty; .*--force/)
    expect(await readFile(join(busy, "keep.txt"), "utf8")).toBe("mine")
    expect((await cairn([...data, "export", busy, "--force"])).code).toBe(0)

    const linked = join(await dirs.make(), "linked")
    await cairn([...data, "export", linked])
    const file = join(linked, "task", `${id}.json`)
    await rm(file)
    await symlink("/etc/passwd", file)
    const other = ["--data", await dirs.make()]
    const viaLink = await cairn([...other, "import", linked])
    expect(viaLink.code).toBe(1)
    expect(viaLink.stderr).toMatch(/refusing task\/.*\.json: it is a symbolic link/)
    expect(viaLink.stderr).not.toMatch(/root/)

    const bad = join(await dirs.make(), "bad")
    await cairn([...data, "export", bad])
    const target = join(bad, "task", `${id}.json`)
    const text = await readFile(target)
    await writeFile(target, Buffer.concat([text.subarray(0, 20), Buffer.from([0xc3, 0x28]), text.subarray(20)]))
    const invalid = await cairn([...other, "import", bad])
    expect(invalid.code).toBe(1)
    expect(invalid.stderr).toMatch(/is not valid UTF-8 \(at byte 20\)/)
    expect(await json([...other, "ls"])).toEqual([])
  })
})
