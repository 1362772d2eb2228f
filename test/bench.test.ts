/**
 * Smoke test for the benchmark suite (test/bench/): every workload runs at a
 * small N, once, so the suite keeps working. No timing is asserted; the
 * figures are for BENCHMARKS.md, from `npm run bench`.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

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
