/**
 * Sync through a plain folder, across processes: two machines that never
 * run at the same time, with type filtering, deletes and purges; and two
 * running machines whose folders are joined by a copier that behaves like a
 * file sync tool (delays, files copied in pieces, out of order).
 */
import { spawn, type ChildProcess } from "node:child_process"
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { cairn, json, BIN } from "../packages/cli/test/helpers.js"
import { TempDirs, eventually } from "./helpers/PeerProcess.js"

const dirs = new TempDirs()
const children: ChildProcess[] = []
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
  await dirs.cleanup()
})

/** Two data directories whose machines trust each other, with write grants `writes` (A's grant to B, B's to A). */
async function twoMachines(): Promise<{ a: string; b: string; keyA: string; keyB: string; idA: string; idB: string }> {
  const [a, b] = [await dirs.make("cairn-a-"), await dirs.make("cairn-b-")]
  const [whoA, whoB] = [await json(["--data", a, "init"]), await json(["--data", b, "init"])]
  await json(["--data", a, "trust", whoB.publicKey, "--read", "*", "--write", "*"])
  await json(["--data", b, "trust", whoA.publicKey, "--read", "*", "--write", "*"])
  return { a, b, keyA: whoA.publicKey, keyB: whoB.publicKey, idA: whoA.machineId, idB: whoB.machineId }
}

const ids = (list: { id: string }[]) => list.map(d => d.id).sort()

describe("sync through a folder", () => {
  it("between two machines that never run at the same time, with type filtering, deletes and purges", { timeout: 120_000 }, async () => {
    const folder = await dirs.make("cairn-shared-")
    const { a, b, idA } = await twoMachines()
    const task = (await cairn(["--data", a, "create", "task", '{"title": "buy milk"}'])).stdout.trim()
    const doomed = (await cairn(["--data", a, "create", "task", '{"title": "to be purged"}'])).stdout.trim()
    const note = (await cairn(["--data", a, "create", "note", '{"body": "not for b"}'])).stdout.trim()
    const first = await json(["--data", a, "sync", "--folder", folder])
    expect(first).toMatchObject({ sent: 3, received: 0, written: 2 })

    // A stray file where B would read notes: B, which wants only tasks, never opens it.
    const stray = join(folder, "note", "f".repeat(32), "000000000001.changes.cairn")
    await mkdir(join(stray, ".."), { recursive: true })
    await writeFile(stray, "not a sync file")
    const atB = await json(["--data", b, "sync", "--folder", folder, "--types", "task"])
    expect(atB).toMatchObject({ received: 2, applied: 1, skipped: [] })
    expect(ids(await json(["--data", b, "ls"]))).toEqual([task, doomed].sort())
    expect((await readdir(join(folder, "note"))).sort()).toEqual([idA, "f".repeat(32)].sort())

    expect((await cairn(["--data", b, "set", task, "done", "true"])).code).toBe(0)
    expect((await cairn(["--data", b, "rm", doomed])).code).toBe(0)
    await json(["--data", b, "sync", "--folder", folder, "--types", "task"])

    const back = await json(["--data", a, "sync", "--folder", folder])
    expect(back).toMatchObject({ received: 2 })
    expect((await json(["--data", a, "get", task])).data).toEqual({ title: "buy milk", done: true })
    expect(ids(await json(["--data", a, "ls"]))).toEqual([note, task].sort())
    const readable = JSON.parse(await readFile(join(folder, "task", idA, "json", `${task}.json`), "utf8"))
    expect(readable).toMatchObject({ id: task, type: "task", data: { title: "buy milk", done: true } })

    expect((await cairn(["--data", a, "purge", doomed])).code).toBe(0)
    await json(["--data", a, "sync", "--folder", folder])
    expect(await readdir(join(folder, "task", idA, "json"))).toEqual([`${task}.json`])
    expect(await json(["--data", b, "sync", "--folder", folder, "--types", "task"])).toMatchObject({ purged: 1 })
    expect(ids(await json(["--data", b, "ls", "--deleted"]))).toEqual([task])
    expect((await cairn(["--data", b, "get", doomed])).code).not.toBe(0)
    expect(ids(await json(["--data", b, "ls", "--type", "note"]))).toEqual([])
  })

  it("a machine that does not trust the writer applies nothing, and says why", async () => {
    const folder = await dirs.make("cairn-shared-")
    const [a, b] = [await dirs.make("cairn-a-"), await dirs.make("cairn-b-")]
    const whoA = await json(["--data", a, "init"])
    await cairn(["--data", a, "create", "task", '{"title": "from a stranger"}'])
    await json(["--data", a, "sync", "--folder", folder])
    const result = await cairn(["--data", b, "sync", "--folder", folder])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`machine ${whoA.machineId} is not trusted here (cairn trust ${whoA.publicKey}`)
    expect(await json(["--data", b, "ls"])).toEqual([])
  })

  it("two running machines converge through folders joined by a copier that copies in pieces, late and out of order", {
    timeout: 120_000,
  }, async () => {
    const { a, b, idA, idB } = await twoMachines()
    const [folderA, folderB] = [await dirs.make("cairn-folder-a-"), await dirs.make("cairn-folder-b-")]
    const copier = fileURLToPath(new URL("./fixtures/folderCopier.mjs", import.meta.url))
    for (const [src, dst, id] of [
      [folderA, folderB, idA],
      [folderB, folderA, idB],
    ] as const)
      children.push(spawn(process.execPath, [copier, src, dst, id], { stdio: "ignore" }))
    const serve = async (data: string, folder: string) => {
      const child = spawn(process.execPath, [BIN, "--data", data, "serve", "--port", "0", "--folder", folder], {
        stdio: ["ignore", "pipe", "inherit"],
      })
      children.push(child)
      // Its folder sync has started (and the server holds the directory) once it says so.
      await new Promise<void>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout! })
        lines.on("line", line => line.startsWith("syncing through folder") && resolve())
        child.once("exit", code => reject(new Error(`serve exited with ${code}`)))
      })
      return child
    }
    const [serveA, serveB] = [await serve(a, folderA), await serve(b, folderB)]
    const made = { a: [] as string[], b: [] as string[] }
    for (let i = 0; i < 6; i++) {
      made.a.push((await cairn(["--data", a, "create", "task", JSON.stringify({ title: `a${i}` })])).stdout.trim())
      made.b.push((await cairn(["--data", b, "create", "note", JSON.stringify({ body: `b${i}` })])).stdout.trim())
    }
    const links = (await json(["--data", a, "peers"])).filter((row: { transport?: string }) => row.transport === "folder")
    expect(links).toMatchObject([{ name: folderA, connected: true }])
    const all = [...made.a, ...made.b].sort()
    await eventually(async () => JSON.stringify(ids(await json(["--data", b, "ls"]))) === JSON.stringify(all), 40_000, 250)
    await eventually(async () => JSON.stringify(ids(await json(["--data", a, "ls"]))) === JSON.stringify(all), 40_000, 250)
    // A change and a delete made on one side after the first round arrive too.
    await cairn(["--data", b, "set", made.a[0]!, "done", "true"])
    await cairn(["--data", a, "rm", made.b[0]!])
    await eventually(async () => (await json(["--data", a, "get", made.a[0]!])).data.done === true, 40_000, 250)
    await eventually(async () => !ids(await json(["--data", b, "ls"])).includes(made.b[0]!), 40_000, 250)
    for (const child of [serveA, serveB]) {
      child.kill("SIGTERM")
      await new Promise(resolve => child.once("exit", resolve))
    }
  })
})
