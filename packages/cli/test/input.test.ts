/**
 * Input that is too large or not UTF-8 gets a `cairn:` line naming what was
 * wrong, before anything is stored.
 */
import { spawn } from "node:child_process"
import { open, truncate, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { BIN, Dirs, cairn, json } from "./helpers.js"

const dirs = new Dirs()
afterAll(() => dirs.cleanup())

/** Run `cairn` with standard input read from a file. */
async function withStdinFrom(file: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const handle = await open(file, "r")
  try {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: [handle.fd, "ignore", "pipe"] })
    let stderr = ""
    child.stderr!.on("data", chunk => (stderr += chunk))
    const code = await new Promise<number | null>(resolve => child.once("exit", resolve))
    return { code, stderr }
  } finally {
    await handle.close()
  }
}

describe("input limits", () => {
  it("refuses data on standard input that is not UTF-8, naming the byte, and stores nothing", async () => {
    const data = ["--data", await dirs.make()]
    const file = join(await dirs.make(), "bad.json")
    await writeFile(file, Buffer.concat([Buffer.from('{"title": "caf'), Buffer.from([0xe9]), Buffer.from('"}')]))
    const run = await withStdinFrom(file, [...data, "create", "task"])
    expect(run.code).toBe(1)
    expect(run.stderr).toBe("cairn: standard input is not valid UTF-8 (at byte 14)\n")
    expect(await json([...data, "ls"])).toEqual([])
  })

  it("refuses standard input larger than a command takes before reading it", async () => {
    const data = ["--data", await dirs.make()]
    const file = join(await dirs.make(), "huge.json")
    await writeFile(file, "")
    await truncate(file, 300 * 1024 * 1024) // sparse: nothing is written
    const started = Date.now()
    const run = await withStdinFrom(file, [...data, "create", "task"])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^cairn: standard input holds 314572800 bytes, more than a command takes \(268435456\)\n$/)
    expect(Date.now() - started).toBeLessThan(10_000)
    expect((await cairn([...data, "ls", "--json"])).stdout.trim()).toBe("[]")
  })
})
