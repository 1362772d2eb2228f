// Small helpers the peer processes share: timing, sleeping, a shared clock,
// and the size of an Automerge sync exchange.
import * as A from "@automerge/automerge"

/**
 * Run `work` and return its result with wall time and this process's CPU
 * time, in ms, and when it ended on the shared clock (`doneAt`, to time from
 * another process's start).
 */
export async function timed(work) {
  const cpu = process.cpuUsage()
  const start = performance.now()
  const result = await work()
  const ms = performance.now() - start
  const used = process.cpuUsage(cpu)
  return { ms, cpuMs: (used.user + used.system) / 1000, doneAt: clock(), ...(result && typeof result === "object" ? result : {}) }
}

/**
 * Make `count` things in steps of `step` (`makeStep(first, n)`), one after
 * another, timing each; stops after the step that passes `budgetMs`.
 */
export async function inSteps({ count, step, budgetMs = Infinity }, makeStep) {
  const steps = []
  const started = performance.now()
  let made = 0
  while (made < count && performance.now() - started < budgetMs) {
    const at = performance.now()
    const n = Math.min(step, count - made)
    await makeStep(made, n)
    made += n
    steps.push(performance.now() - at)
  }
  return { count: made, steps, timedOut: made < count }
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/**
 * Milliseconds on CLOCK_MONOTONIC, which every process on the machine shares
 * (process.hrtime), so a time taken in one peer process can be compared with
 * one taken in another.
 */
export const clock = () => Number(process.hrtime.bigint()) / 1e6

/** Wait until `clock()` reaches `at`. */
export async function sleepUntil(at) {
  for (;;) {
    const left = at - clock()
    if (left <= 0) return
    if (left > 2) await sleep(left - 1)
    else await new Promise(resolve => setImmediate(resolve))
  }
}

/** Sorted heads as one string, for comparing. */
export const headsKey = heads => [...heads].sort().join(",")

/**
 * Bytes of the Automerge sync messages that bring a peer holding `older` up
 * to `newer` (both sides start with fresh sync states, as on a reconnect).
 */
export function syncExchangeBytes(newer, older) {
  // Clones: receiving a sync message consumes the document it is given, and `newer` is a live one.
  let a = A.clone(newer)
  let b = A.clone(older)
  let stateA = A.initSyncState()
  let stateB = A.initSyncState()
  let bytes = 0
  for (let round = 0; round < 50; round++) {
    let progressed = false
    let message
    ;[stateA, message] = A.generateSyncMessage(a, stateA)
    if (message) {
      bytes += message.byteLength
      ;[b, stateB] = A.receiveSyncMessage(b, stateB, message)
      progressed = true
    }
    ;[stateB, message] = A.generateSyncMessage(b, stateB)
    if (message) {
      bytes += message.byteLength
      ;[a, stateA] = A.receiveSyncMessage(a, stateA, message)
      progressed = true
    }
    if (!progressed) break
  }
  if (headsKey(A.getHeads(a)) !== headsKey(A.getHeads(b))) throw new Error("sync exchange did not converge")
  return bytes
}

/** Split an array into runs of at most `size`. */
export function chunksOf(items, size) {
  const out = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
