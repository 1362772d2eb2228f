/**
 * A document made with the CLI, which has no definitions, reaches an app
 * that defines its type: the fields it lacks that the definition fills in
 * (defaults, counters, lists, records) are no reason to refuse it. Three
 * processes: `cairn serve` on a CLI data directory, `cairn create` through
 * it, and a peer with the README tour's `Task`.
 */
import { readFile } from "node:fs/promises"
import { afterAll, describe, expect, it } from "vitest"
import { cairn, json, startServe } from "../packages/cli/test/helpers.js"
import { PeerProcess, TempDirs, eventually } from "./helpers/PeerProcess.js"

const dirs = new TempDirs()
afterAll(() => dirs.cleanup())

describe("a document made with the CLI on a peer that defines its type", () => {
  it("uses the README tour's Task exactly", async () => {
    const fixture = await readFile(new URL("./fixtures/tourTypes.mjs", import.meta.url), "utf8")
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8")
    const definition = /^const Task = defineType\([\s\S]*?^\}\)$/m.exec(fixture)![0]
    expect(readme).toContain(definition)
  })

  it("is not quarantined, reads `done` as false, and can be changed; the CLI sees the change", async () => {
    const cliDir = await dirs.make("cairn-cli-")
    const server = await startServe(["--data", cliDir])
    const app = await PeerProcess.start({ dir: await dirs.make("cairn-app-"), types: "tour", wants: "task" })
    try {
      const created = await cairn(["--data", cliDir, "create", "task", '{"title": "Buy milk"}'])
      expect(created.stderr).toBe("")
      const id = created.stdout.trim()

      await app.call("connect", { url: server.url })
      await app.call("synced")
      const entry = await eventually(() => app.call("entry", { id }))
      expect(entry.quarantined).toBeUndefined()
      const doc = await app.call("get", { id })
      expect(doc.data).toEqual({ title: "Buy milk", done: false, notes: "", votes: 0, tags: [], links: {} })

      const changed = await app.call("change", {
        type: "task",
        id,
        ops: [
          { op: "set", path: ["done"], value: true },
          { op: "incr", path: ["votes"] },
          { op: "push", path: ["tags"], value: "today" },
          { op: "splice", path: ["notes"], index: 0, del: 0, text: "oat" },
        ],
      })
      expect(changed).toEqual({ title: "Buy milk", done: true, notes: "oat", votes: 1, tags: ["today"], links: {} })
      await app.call("synced")
      const onCli = await eventually(async () => {
        const found = await json(["--data", cliDir, "get", id])
        return found.data.done === true && found
      })
      expect(onCli.data).toEqual({ title: "Buy milk", done: true, notes: "oat", votes: 1, tags: ["today"] })
      // The kinds the app wrote hold on the CLI too: the counter takes an increment, the text a splice.
      expect((await cairn(["--data", cliDir, "incr", id, "votes"])).code).toBe(0)
      expect((await cairn(["--data", cliDir, "text", id, "notes", "--splice", "3", "0", " milk"])).code).toBe(0)
      const back = await eventually(async () => {
        const found = await app.call("get", { id })
        return found.data.votes === 2 && found.data.notes === "oat milk" && found
      })
      expect(back.data).toEqual({ title: "Buy milk", done: true, notes: "oat milk", votes: 2, tags: ["today"], links: {} })
    } finally {
      await app.stop()
      await server.stop()
    }
  })
})
