/**
 * The README's tour must work as written: it is examples/tour.mjs, and this
 * test runs that file and checks the README shows the same code.
 */
import { execFile } from "node:child_process"
import { readFile } from "node:fs/promises"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const root = new URL("../", import.meta.url)

describe("README tour", () => {
  it("shows exactly the code of examples/tour.mjs", async () => {
    const readme = await readFile(new URL("README.md", root), "utf8")
    const tour = await readFile(new URL("examples/tour.mjs", root), "utf8")
    const block = readme.split("```js\n")[1]!.split("```")[0]!
    const code = tour
      .split("\n")
      .filter(line => !line.startsWith("// A short tour") && !line.startsWith("//   npm install"))
      .join("\n")
    expect(code.trim()).toBe(block.trim())
  })

  it("runs and prints what the README promises", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["examples/tour.mjs"], { cwd: root, timeout: 60_000 })
    expect(stdout).toContain("ValidationError: expected a string, got number 42 (at title)")
    expect(stdout).toContain("done: true")
    expect(stdout).toContain("votes: 2")
    expect(stdout).toContain("notes: 'Oat, two litres'")
  })
})
