import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { expect, test } from "vitest"

const built = fileURLToPath(new URL("../dist/index.js", import.meta.url))

// A peer on a data directory never uses PostgreSQL: importing pg costs a fresh process about 50 ms before it can open.
test("importing @cairn/node loads no PostgreSQL client until a store is opened", () => {
  const script = `
    import { createRequire } from "node:module"
    await import(${JSON.stringify(built)})
    const loaded = Object.keys(createRequire(import.meta.url).cache)
    console.log(JSON.stringify({ pg: loaded.filter(path => /node_modules\\/pg\\//.test(path)).length, all: loaded.length }))`
  const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }))
  expect(out.all).toBeGreaterThan(0)
  expect(out.pg).toBe(0)
})
