/**
 * `cairn watch` while `cairn serve` runs: it follows the server's changes
 * through the local socket (a command's and a peer's), filtered by type, and
 * ends when the server stops.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { afterAll, describe, expect, it } from "vitest"
import { BIN, Dirs, cairn, startServe } from "./helpers.js"

const dirs = new Dirs()
afterAll(() => dirs.cleanup())

describe("cairn watch", () => {
  it("through a running server prints each change of the type, and exits when the server stops", { timeout: 60_000 }, async () => {
    const dir = await dirs.make()
    const data = ["--data", dir]
    const server = await startServe(data)
    try {
      const watch = spawn(process.execPath, [BIN, ...data, "watch", "--type", "task"], { stdio: ["ignore", "pipe", "pipe"] })
      const exited = new Promise<number | null>(resolve => watch.once("exit", code => resolve(code)))
      const lines: any[] = []
      createInterface({ input: watch.stdout! }).on("line", line => lines.push(JSON.parse(line)))
      // Until the watch is connected a change goes unseen: make one until it is printed (what came before it was, too).
      const printed = (title: string) => lines.some(line => line.data?.title === title)
      for (let attempt = 0; !printed(`probe ${attempt - 1}`) && attempt < 20; attempt++) {
        await cairn([...data, "create", "task", JSON.stringify({ title: `probe ${attempt}` })])
        const until = Date.now() + 1000
        while (!printed(`probe ${attempt}`) && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 50))
      }
      expect(lines.at(-1)).toMatchObject({ type: "task", data: { title: expect.stringMatching(/^probe/) }, origin: "local" })
      const count = lines.length
      await cairn([...data, "create", "note", '{"body": "not a task"}'])
      const id = (await cairn([...data, "create", "task", '{"title": "second"}'])).stdout.trim()
      await cairn([...data, "rm", id])
      const seenUntil = Date.now() + 10_000
      while (lines.length < count + 2 && Date.now() < seenUntil) await new Promise(resolve => setTimeout(resolve, 50))
      expect(lines.slice(count).map(line => line.data?.title ?? (line.deletedAt ? "deleted" : line.type))).toEqual(["second", "deleted"])
      await server.stop()
      expect(await exited).toBe(0)
    } finally {
      await server.stop()
    }
  })
})
