/**
 * Load (see lib/load.mjs): 50 WebSocket clients in a load process editing
 * shared and private documents against one server process. CI runs 10 s;
 * `npm run soak` runs 60 s. No errors, all converge, the server's memory
 * stays bounded; the figures are printed for RELIABILITY.md.
 */
import { describe, expect, it } from "vitest"
import { runLoad } from "./lib/load.mjs"

const clients = Number(process.env.CAIRN_LOAD_CLIENTS ?? 50)
const seconds = Number(process.env.CAIRN_LOAD_SECONDS ?? 10)

describe("load", () => {
  it(`${clients} clients editing for ${seconds} s: no errors, all converge, bounded memory`, { timeout: 240_000 }, async () => {
    const result = await runLoad({ clients, seconds })
    console.log(`load: ${JSON.stringify({ ...result, failures: undefined })}`)
    if (result.failures.length > 0) throw new Error(`load run failed:\n${result.failures.slice(0, 20).join("\n")}`)
    expect(result.edits).toBeGreaterThan(0)
  })
})
