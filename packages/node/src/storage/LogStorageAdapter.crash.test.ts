/**
 * Kill -9 at random moments: every write whose promise resolved must be
 * found intact, every write that had begun may or may not be there but is
 * never garbage, and the only damage is a torn tail.
 *
 * The child runs the built adapter (see builtStorageModule).
 */
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, expect, it } from "vitest"
import { builtStorageModule } from "../../test/helpers/builtStorage.js"
import { storageKey, valueFor } from "./LogStorageAdapter.crash-child.mjs"
import { LogStorageAdapter } from "./LogStorageAdapter.js"

const here = dirname(fileURLToPath(import.meta.url))
const childPath = join(here, "LogStorageAdapter.crash-child.mjs")
const ROUNDS = 8

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

/** Run the child on `dir` and SIGKILL it `delayMs` after it has opened the store. Returns the lines it printed. */
async function runAndKill(adapterPath: string, dir: string, round: number, delayMs: number): Promise<string[]> {
  const child = spawn(process.execPath, [childPath, adapterPath, dir, String(round)], { stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (data: string) => {
    if (!stdout.startsWith("ready") && (stdout + data).startsWith("ready")) setTimeout(() => child.kill("SIGKILL"), delayMs)
    stdout += data
  })
  child.stderr.setEncoding("utf8").on("data", (data: string) => (stderr += data))
  const signal = await new Promise<NodeJS.Signals | null>(resolve => child.on("close", (_code, signal) => resolve(signal)))
  if (signal !== "SIGKILL") throw new Error(`crash child ended on its own (round ${round}): ${stderr}`)
  return stdout.split("\n").slice(1, -1) // drop "ready" and the unfinished last line
}

type State = number | "absent"

it("keeps every acknowledged save and remove through kill -9 at random moments", { timeout: 120_000 }, async () => {
  const adapterPath = await builtStorageModule("LogStorageAdapter")
  const dir = await mkdtemp(join(tmpdir(), "cairn-crash-"))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  /** Every key's possible states: one once settled by an earlier check, two while a write was in flight. */
  const allowed = new Map<string, State[]>()
  let acknowledged = 0

  for (let round = 0; round < ROUNDS; round++) {
    const lines = await runAndKill(adapterPath, dir, round, 50 + Math.random() * 400)
    const acked = new Map<number, State>()
    const inFlight = new Map<number, State>()
    for (const line of lines) {
      const [phase, n, what] = line.split(" ") as [string, string, string]
      const state: State = what === "removed" ? "absent" : Number(what)
      if (phase === "B") inFlight.set(Number(n), state)
      else {
        inFlight.delete(Number(n))
        acked.set(Number(n), state)
        acknowledged++
      }
    }
    for (const n of new Set([...acked.keys(), ...inFlight.keys()])) {
      const states: State[] = [acked.get(n) ?? "absent"]
      if (inFlight.has(n)) states.push(inFlight.get(n)!)
      allowed.set(storageKey(round, n).join("/"), states)
    }

    const adapter = await LogStorageAdapter.open(dir)
    expect(adapter.damaged.filter(damage => damage.reason !== "torn-tail")).toEqual([])
    const found = new Map((await adapter.loadRange([])).map(chunk => [chunk.key.join("/"), chunk.data!]))
    for (const [key, data] of found) {
      const versions = (allowed.get(key) ?? []).filter((state): state is number => state !== "absent")
      const match = versions.find(version => Buffer.from(data).equals(valueFor(key, version)))
      expect(
        match,
        `${key} holds a value that was never written (round ${round}, allowed ${JSON.stringify(allowed.get(key))})`,
      ).toBeDefined()
      allowed.set(key, [match!])
    }
    for (const [key, states] of allowed) {
      if (found.has(key)) continue
      expect(states, `${key} is missing after round ${round}`).toContain("absent")
      allowed.set(key, ["absent"])
    }
    await adapter.close()
  }
  expect(acknowledged).toBeGreaterThan(ROUNDS * 20)
})
