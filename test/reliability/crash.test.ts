/**
 * Crash safety (see lib/crash.mjs): a peer process that writes and reports
 * each acknowledged write is killed with SIGKILL at random moments, some of
 * them while it is still opening. Every restart must open the store and hold
 * every write it reported, and, after a sync, every write its peer reported.
 * CI runs 8 kills; `npm run soak -- --kills=N` runs more.
 */
import { describe, expect, it } from "vitest"
import { crashReplayCommand, runCrashes } from "./lib/crash.mjs"

const seed = Number(process.env.CAIRN_CRASH_SEED ?? 7)
const kills = Number(process.env.CAIRN_CRASH_KILLS ?? 8)

describe("crash safety", () => {
  it(`survives ${kills} SIGKILLs with no acknowledged write lost (seed ${seed})`, { timeout: 170_000 }, async () => {
    const result = await runCrashes({ seed, kills })
    if (result.failures.length > 0) {
      throw new Error(
        [
          `crash run failed for seed ${seed}; replay: ${crashReplayCommand(result)}`,
          `data kept in ${result.dir}`,
          ...result.failures.slice(0, 30),
        ].join("\n"),
      )
    }
    expect(result.kills).toBe(kills)
    expect(result.writes).toBeGreaterThan(0)
  })
})
