/**
 * What a crash or a busy directory leaves for the next command: a `cairn
 * serve` killed with SIGKILL (and never reaped, as under a shell or a
 * container's init that does not wait), and commands run at once with no
 * server.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { afterAll, describe, expect, it } from "vitest"
import { BIN, Dirs, cairn, json, startServe } from "./helpers.js"

const dirs = new Dirs()
afterAll(() => dirs.cleanup())

describe("a data directory after a crash or under concurrent commands", () => {
  it("a server killed with SIGKILL leaves nothing that blocks ls, create or serve", { timeout: 60_000 }, async () => {
    const dir = await dirs.make()
    const data = ["--data", dir]
    const id = (await cairn([...data, "create", "task", '{"title": "before the crash"}'])).stdout.trim()
    // `sh` starts the server and then becomes `sleep`, which never reaps it: the killed server stays a zombie.
    const shell = spawn("sh", ["-c", `"${process.execPath}" "${BIN}" --data "${dir}" serve --open --port 0 & echo $!; exec sleep 120`], {
      stdio: ["ignore", "pipe", "inherit"],
    })
    try {
      const pid = Number(await new Promise<string>(resolve => createInterface({ input: shell.stdout! }).once("line", resolve)))
      const deadline = Date.now() + 20_000
      while (!existsSync(join(dir, "cairn.sock")) && Date.now() < deadline) await sleep(50)
      expect(existsSync(join(dir, "cairn.sock"))).toBe(true)
      process.kill(pid, "SIGKILL")
      await sleep(200)

      const listed = await cairn([...data, "ls", "--json"])
      expect(listed.stderr).toBe("")
      expect(JSON.parse(listed.stdout).map((doc: { id: string }) => doc.id)).toEqual([id])
      expect((await cairn([...data, "create", "task", '{"title": "after the crash"}'])).code).toBe(0)
      const server = await startServe(data)
      try {
        expect((await json([...data, "ls"])).length).toBe(2)
      } finally {
        await server.stop()
      }
    } finally {
      shell.kill("SIGKILL")
    }
  })

  it("commands run at the same time with no server take their turns", { timeout: 60_000 }, async () => {
    const data = ["--data", await dirs.make()]
    await cairn([...data, "init"])
    const runs = await Promise.all(
      Array.from({ length: 4 }, (_, i) => cairn([...data, "create", "task", JSON.stringify({ title: `at once ${i}` })])),
    )
    expect(runs.map(run => run.stderr)).toEqual(["", "", "", ""])
    expect(runs.map(run => run.code)).toEqual([0, 0, 0, 0])
    expect((await json([...data, "ls"])).length).toBe(4)
  })

  it("watch on a directory with no server keeps watching until interrupted", { timeout: 30_000 }, async () => {
    const data = ["--data", await dirs.make()]
    await cairn([...data, "init"])
    const child = spawn(process.execPath, [BIN, ...data, "watch"], { stdio: ["ignore", "pipe", "pipe"] })
    const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)))
    const early = await Promise.race([exited, new Promise(resolve => setTimeout(() => resolve("running"), 1500))])
    expect(early).toBe("running")
    child.kill("SIGINT")
    expect(await exited).toBe(0)
  })
})
