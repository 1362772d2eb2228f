// Transactions across a crash: a peer process (test/fixtures/transaction-peer.mjs)
// runs transactions of several documents one after another and is killed with
// SIGKILL at random moments. After every restart each transaction must be
// wholly there or wholly absent: the documents db.list and db.query show are
// exactly those of every acknowledged transaction applied in order, plus
// perhaps the one in flight, all of it, with nothing damaged and no document
// on disk that the catalog does not list; and the peer goes on writing.
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { valueFor } from "../../fixtures/transaction-peer.mjs"
import { Random } from "./random.mjs"

const FIXTURE = fileURLToPath(new URL("../../fixtures/transaction-peer.mjs", import.meta.url))

/** The documents after transactions: "group/slot" -> [group, slot, version, value]. */
class TransactionModel {
  docs = new Map()
  applied = 0

  apply({ t, op }) {
    this.applied++
    if (op.kind === "create") {
      for (let slot = 0; slot < op.size; slot++) this.docs.set(`${op.group}/${slot}`, [op.group, slot, t, valueFor(t, slot)])
      return
    }
    for (const [key, doc] of this.docs) if (op.groups.includes(doc[0])) this.docs.set(key, [doc[0], doc[1], t, valueFor(t, doc[1])])
  }

  /** As the fixture prints its state: sorted rows. */
  rows() {
    return [...this.docs.values()].sort()
  }

  clone() {
    const copy = new TransactionModel()
    copy.docs = new Map(this.docs)
    copy.applied = this.applied
    return copy
  }
}

/**
 * @param {{ seed: number, kills: number, transactions?: number, progress?: (line: string) => void }} options
 * Kills `kills` times, and more until `transactions` transactions have begun.
 */
export async function runTransactionCrashes(options) {
  const seed = options.seed >>> 0
  const rng = new Random(seed)
  const started = Date.now()
  const dir = await mkdtemp(join(tmpdir(), `cairn-tx-crash-${seed}-`))
  const result = { seed, kills: 0, begun: 0, acknowledged: 0, applied: 0, inFlightApplied: 0, large: 0, failures: [], durationMs: 0, dir }
  const fail = message => result.failures.push(message)
  let model = new TransactionModel()
  /** Transactions of the last run: begun in order, the acknowledged ones first. */
  let pending = []
  let next = 0
  const target = options.transactions ?? 0
  try {
    for (let round = 0; result.failures.length === 0 && (round < options.kills || result.begun < target); round++) {
      const run = startPeer(["--dir=" + dir, `--seed=${seed}`, `--from=${next}`])
      const state = await run.state
      model = settle(model, pending, state, `restart after kill ${round}`, fail, result) ?? model
      if (result.failures.length) {
        await run.kill()
        break
      }
      // Longer runs between kills when many transactions are asked for: a restart costs a couple of seconds on a busy machine.
      await new Promise(resolve => setTimeout(resolve, target > 0 ? rng.int(500, 6000) : rng.int(200, 1500)))
      const lines = await run.kill()
      if (run.error()) fail(`round ${round}: the peer failed: ${run.error()}`)
      pending = lines.begun
      for (const tx of pending) if (tx.op.kind === "create" ? tx.op.size > 100 : tx.op.groups.length > 1) result.large++
      result.begun += pending.length
      result.acknowledged += pending.filter(tx => tx.acked).length
      next = Math.max(next, ...pending.map(tx => tx.t + 1))
      result.kills++
      options.progress?.(`kill ${result.kills}: ${result.begun} transactions begun, ${model.applied} on disk before it`)
    }
    for (const when of ["after the last kill", "after a clean close"]) {
      if (result.failures.length) break
      const run = startPeer(["--dir=" + dir, "--check"])
      const state = await run.state
      model = settle(model, pending, state, when, fail, result) ?? model
      pending = []
      const exit = await run.exit
      if (exit.code !== 0) fail(`${when}: the peer did not close cleanly (${exit.signal ?? exit.code}): ${run.error()}`)
    }
  } catch (error) {
    fail(`run aborted: ${error?.stack ?? error}`)
  } finally {
    result.applied = model.applied
    result.durationMs = Date.now() - started
    if (result.failures.length === 0) await rm(dir, { recursive: true, force: true })
  }
  return result
}

/**
 * The model after the transactions of the last run that the state shows: every
 * acknowledged one and perhaps the one in flight, each whole. Undefined (and a
 * failure) if no such prefix gives exactly the state.
 */
function settle(model, pending, state, when, fail, result) {
  if (state.damaged.length) fail(`${when}: the database found damage: ${state.damaged.slice(0, 3).join("; ")}`)
  if (state.repaired) fail(`${when}: the catalog had to be rebuilt`)
  if (JSON.stringify(state.queried) !== JSON.stringify(state.listed)) fail(`${when}: db.query and db.list disagree`)
  if (state.stored !== state.listed.length)
    fail(
      `${when}: the storage holds ${state.stored} documents but the catalog lists ${state.listed.length}: a transaction's entries were lost`,
    )
  const acked = pending.filter(tx => tx.acked).length
  const shown = JSON.stringify(state.listed)
  const candidate = model.clone()
  for (const tx of pending.slice(0, acked)) candidate.apply(tx)
  for (let applied = acked; applied <= pending.length; applied++) {
    if (applied > acked) candidate.apply(pending[applied - 1])
    if (JSON.stringify(candidate.rows()) === shown) {
      result.inFlightApplied += applied - acked
      return candidate
    }
  }
  const expected = model.clone()
  for (const tx of pending.slice(0, acked)) expected.apply(tx)
  fail(
    `${when}: the documents are not those of whole transactions (${acked} acknowledged of ${pending.length} begun): ${difference(expected.rows(), state.listed)}`,
  )
  return undefined
}

function difference(expected, shown) {
  const key = row => `${row[0]}/${row[1]}`
  const want = new Map(expected.map(row => [key(row), row]))
  const have = new Map(shown.map(row => [key(row), row]))
  const problems = []
  for (const [k, row] of want) {
    const got = have.get(k)
    if (!got) problems.push(`${k} (version ${row[2]}) missing`)
    else if (got[2] !== row[2] || got[3] !== row[3]) problems.push(`${k} is version ${got[2]}, expected ${row[2]}`)
  }
  for (const [k, row] of have) if (!want.has(k)) problems.push(`${k} (version ${row[2]}) should not be there`)
  return `${problems.length} differences: ${problems.slice(0, 8).join("; ")}`
}

/** Spawn the fixture; `state` resolves with its first line, `kill()` SIGKILLs it and resolves with what it printed. */
function startPeer(args) {
  const child = spawn(process.execPath, [FIXTURE, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  const begun = []
  let stderr = ""
  child.stderr.setEncoding("utf8").on("data", data => (stderr = (stderr + data).slice(-4000)))
  const exit = new Promise(resolve => child.on("close", (code, signal) => resolve({ code, signal })))
  const state = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", line => {
      const message = JSON.parse(line)
      if (message.state) resolve(message.state)
      else if (message.begun !== undefined) begun.push({ t: message.begun, op: message.op, acked: false })
      else if (message.acked !== undefined) begun.find(tx => tx.t === message.acked).acked = true
    })
    exit.then(({ code, signal }) => reject(new Error(`the peer exited (${signal ?? code}) before it printed its state: ${stderr}`)))
  })
  state.catch(() => {})
  return {
    state,
    exit,
    error: () => (stderr.includes("Error") ? stderr : undefined),
    async kill() {
      child.kill("SIGKILL")
      await exit
      return { begun }
    },
  }
}

/** How to replay a run. */
export function transactionReplayCommand({ seed, kills }) {
  return `TURBO_TELEMETRY_DISABLED=1 npx turbo run build && node test/reliability/soak.mjs --only=transactions --seed=${seed} --kills=${kills}`
}
