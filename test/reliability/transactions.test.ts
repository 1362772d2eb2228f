/**
 * Transactions across a crash (see lib/transactions.mjs): a peer running
 * transactions of five documents (and now and then of more than 100 not in
 * memory) is killed with SIGKILL at random moments; after every restart each
 * transaction is wholly there or wholly absent, in the documents and in
 * what db.list and db.query show. CI runs 6 kills; `npm run soak --
 * --only=transactions --transactions=1000` runs 1,000 transactions.
 */
import { describe, expect, it } from "vitest"
import { runTransactionCrashes, transactionReplayCommand } from "./lib/transactions.mjs"

const seed = Number(process.env.CAIRN_TX_CRASH_SEED ?? 11)
const kills = Number(process.env.CAIRN_TX_CRASH_KILLS ?? 6)

describe("transactions across a crash", () => {
  it(`keeps each transaction whole or absent through ${kills} SIGKILLs (seed ${seed})`, { timeout: 120_000 }, async () => {
    const result = await runTransactionCrashes({ seed, kills })
    if (result.failures.length > 0)
      throw new Error(
        [`failed for seed ${seed}; replay: ${transactionReplayCommand(result)}`, `data kept in ${result.dir}`, ...result.failures].join(
          "\n",
        ),
      )
    expect(result.kills).toBe(kills)
    expect(result.applied).toBeGreaterThan(kills * 5)
    expect(result.large).toBeGreaterThan(0)
  })
})
