/**
 * Load (see lib/load.mjs): 50 clients in separate processes, with
 * pre-shared-key auth, every client wanting every type, creating and editing
 * documents through one server. Then the convergence check: every client and
 * the server hold the same documents with the same heads, and every
 * acknowledged creation and increment is on the server, within 30 s of the
 * last edit. CI runs 50 clients in 5 processes for 20 s; `npm run soak` runs
 * 50 processes for 60 s (and allows 90 s).
 */
import { describe, expect, it } from "vitest"
import { runLoad } from "./lib/load.mjs"

const clients = Number(process.env.CAIRN_LOAD_CLIENTS ?? 50)
const processes = Number(process.env.CAIRN_LOAD_PROCESSES ?? 5)
const seconds = Number(process.env.CAIRN_LOAD_SECONDS ?? 20)
// Measured on 2 shared cores: 4–11 s after the last edit; before the fixes of issue 12, not within 30 s (the server
// lacked acknowledged creations and increments, the clients 5–45% of the documents).
const settleMs = Number(process.env.CAIRN_LOAD_SETTLE_MS ?? 30_000)

describe("load", () => {
  it(`${clients} clients in ${processes} processes editing for ${seconds} s: no errors, every client holds what the server holds, every acknowledged write is there`, {
    timeout: 240_000,
  }, async () => {
    const result = await runLoad({ clients, processes, seconds, settleMs, progress: (line: string) => console.log(`load: ${line}`) })
    console.log(`load: ${JSON.stringify({ ...result, failures: undefined })}`)
    if (result.failures.length > 0) throw new Error(`load run failed:\n${result.failures.slice(0, 20).join("\n")}`)
    expect(result.edits).toBeGreaterThan(0)
    expect(result.created).toBeGreaterThan(0)
  })
})
