/**
 * Smoke test for the benchmark suite (test/bench/): every workload runs at a
 * small N, once, so the suite keeps working. No timing is asserted; the
 * figures are for BENCHMARKS.md, from `npm run bench`.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { benchmarksMarkdown, row } from "./bench/lib/report.mjs"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const RUN = fileURLToPath(new URL("./bench/run.js", import.meta.url))
const WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "T1"]

function runQuick(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, "--quick", "--no-write"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", chunk => (stdout += chunk))
    child.stderr.on("data", chunk => (stderr += chunk))
    child.on("error", reject)
    child.on("exit", code => resolve({ code, stdout, stderr }))
  })
}

describe("benchmark suite", () => {
  it("runs every workload at a small N and prints its rows", { timeout: 240_000 }, async () => {
    const { code, stdout, stderr } = await runQuick()
    const context = `${stdout}\n${stderr}`.slice(-6000)
    expect(code, context).toBe(0)
    for (const id of WORKLOADS) expect(stdout, `no result row for ${id}\n${context}`).toMatch(new RegExp(`^${id}  \\S`, "m"))
    expect(stdout).not.toMatch(/FAILED/)
  })
})

describe("BENCHMARKS.md regeneration", () => {
  const results = (rows: ReturnType<typeof row>[], ids: string[]) => ({
    date: "2026-12-02T00:00:00.000Z",
    machine: { cores: 2, cpu: "test CPU", memoryGB: 24, node: "v20", platform: "linux x64" },
    options: { reps: 1, plainReps: 1 },
    workloads: ids.map(id => ({
      id,
      date: "2026-12-02T00:00:00.000Z",
      seconds: 1,
      reps: 1,
      commit: `c-${id}`,
      rows: rows.filter(r => r.id === id),
    })),
  })
  const w = (id: string, cairn: number, versus?: string) =>
    row({ id, what: `${id} time`, unit: "ms", cairn: [cairn], plain: [100], versus })

  it("a run of some workloads replaces their lines and keeps every other workload's", () => {
    const first = benchmarksMarkdown(
      results([w("W1", 10), w("W2", 20), w("P1", 30, "PouchDB")], ["W1", "W2", "P1"]),
      undefined,
      "## Method",
    )
    const second = benchmarksMarkdown(results([w("W2", 99)], ["W2"]), first, "## Method")
    expect(second).toMatch(/^\| W1 \| W1 time \| 10 ms/m)
    expect(second).toMatch(/^\| W2 \| W2 time \| 99 ms/m)
    expect(second).not.toMatch(/^\| W2 \| W2 time \| 20 ms/m)
    expect(second).toMatch(/^\| P1 \| P1 time \| 30 ms/m)
    expect(second).toMatch(/^- W1: .* commit c-W1$/m)
    expect(second).toMatch(/^- P1: .* commit c-P1$/m)
    // PouchDB's rows stay under their own header.
    expect(second.indexOf("PouchDB: median")).toBeLessThan(second.indexOf("| P1 |"))
    expect(second.indexOf("automerge-repo: median")).toBeLessThan(second.indexOf("| W1 |"))
    // Regenerating from its own output changes nothing.
    expect(benchmarksMarkdown(results([w("W2", 99)], ["W2"]), second, "## Method")).toBe(second)
  })
})
