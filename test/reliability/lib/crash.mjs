// Crash safety: a peer process writes (creates, list pushes with counter
// increments, text appends, deletes) and reports each write once its promise
// resolved, while it also pulls what a second peer writes; it is killed with
// SIGKILL at random moments, some of them while it is still opening. Every
// restart must open the store (repairing what it must, and saying so) and
// hold every write it reported, and, after a sync, every write the other
// peer reported.
import { setTimeout as sleep } from "node:timers/promises"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Random } from "./random.mjs"
import { ReliabilityPeer } from "./ReliabilityPeer.mjs"

/** What a list of acknowledged writes says must be there: id → expectation (see the fixture's verify). */
export class WriteModel {
  #docs = new Map()
  writes = 0

  apply(acked) {
    for (const write of acked) {
      this.writes++
      let doc = this.#docs.get(write.id)
      if (!doc)
        this.#docs.set(
          write.id,
          (doc = { id: write.id, type: write.type ?? (write.kind === "text" ? "note" : "task"), marks: [], texts: [] }),
        )
      if (write.kind === "create")
        Object.assign(doc, write.title !== undefined ? { title: write.title } : { body: write.body }, { type: write.type })
      if (write.kind === "mark") doc.marks.push(write.mark)
      if (write.kind === "text") doc.texts.push(write.mark)
      if (write.kind === "delete") doc.deleted = true
    }
  }

  get size() {
    return this.#docs.size
  }

  expected() {
    return [...this.#docs.values()]
  }
}

/**
 * @param {{ seed: number, kills: number, progress?: (line: string) => void }} options
 */
export async function runCrashes(options) {
  const seed = options.seed >>> 0
  const rng = new Random(seed)
  const started = Date.now()
  const root = await mkdtemp(join(tmpdir(), `cairn-crash-${seed}-`))
  const result = {
    seed,
    kills: 0,
    killsWhileOpening: 0,
    restarts: 0,
    catalogRebuilds: 0,
    damagedReported: 0,
    writes: 0,
    sourceWrites: 0,
    documents: 0,
    failures: [],
    durationMs: 0,
    dir: root,
  }
  const mine = new WriteModel()
  const theirs = new WriteModel()
  const source = await ReliabilityPeer.start({ dir: join(root, "source") })
  const { url } = await source.call("listen")
  let victim
  const fail = message => result.failures.push(message)
  try {
    for (let kill = 0; kill < options.kills; kill++) {
      // Some kills land while the peer is still opening (recovering from the previous one).
      if (rng.chance(0.15)) {
        victim = ReliabilityPeer.spawn({ dir: join(root, "victim") })
        await sleep(rng.int(5, 250))
        await victim.kill()
        result.killsWhileOpening++
        result.kills++
        continue
      }
      victim = await openVictim(root, result, fail, kill)
      if (!victim) break
      await check(victim, mine, "its own", kill, fail)
      // Let the source settle so "synced" means "holds everything the source reported".
      await source.call("stopWriting")
      await sleep(50)
      theirs.apply(source.acked.splice(0))
      await victim.call("connect", { url })
      await victim
        .call("synced", { timeoutMs: 30_000 })
        .catch(error => fail(`kill ${kill}: no sync with the source after restart: ${error.message}`))
      await check(victim, theirs, "the source's", kill, fail)
      // Both write; the victim also pulls the source's writes; then SIGKILL at a random moment.
      await source.call("write", { seed: rng.int(0, 2 ** 31), session: 1000 + kill, concurrency: 1 })
      await victim.call("write", { seed: rng.int(0, 2 ** 31), session: kill, concurrency: 3 })
      await sleep(rng.int(50, 1200))
      await victim.kill()
      mine.apply(victim.acked)
      if (victim.writeErrors.length) fail(`kill ${kill}: writes failed before the kill: ${victim.writeErrors.slice(0, 3).join("; ")}`)
      result.kills++
      options.progress?.(`kill ${result.kills}/${options.kills}: ${mine.writes} writes acknowledged so far`)
    }
    // A last restart after the last kill, then a clean close and one more open.
    await source.call("stopWriting")
    await sleep(50)
    theirs.apply(source.acked.splice(0))
    for (const round of ["after the last kill", "after a clean close"]) {
      victim = await openVictim(root, result, fail, round)
      if (!victim) break
      await check(victim, mine, "its own", round, fail)
      await victim.call("connect", { url })
      await victim.call("synced", { timeoutMs: 30_000 }).catch(error => fail(`${round}: no sync with the source: ${error.message}`))
      await check(victim, theirs, "the source's", round, fail)
      const unexpected = await victim.call("unexpected")
      if (unexpected.length) fail(`${round}: unhandled rejections in the peer: ${unexpected.slice(0, 3).join("; ")}`)
      result.documents = (await victim.call("catalog")).length
      await victim.stop()
    }
  } catch (error) {
    fail(`run aborted: ${error?.stack ?? error}`)
  } finally {
    await victim?.kill()
    await source.stop()
    result.writes = mine.writes
    result.sourceWrites = theirs.writes
    result.durationMs = Date.now() - started
    if (result.failures.length === 0) await rm(root, { recursive: true, force: true })
  }
  return result
}

async function openVictim(root, result, fail, when) {
  try {
    const victim = await ReliabilityPeer.start({ dir: join(root, "victim") })
    result.restarts++
    const repairs = victim.ready.repairs
    if (repairs) {
      result.catalogRebuilds++
      result.damagedReported += repairs.damaged.length
    }
    return victim
  } catch (error) {
    fail(`${typeof when === "number" ? `restart after kill ${when}` : when}: the store did not open: ${error.message}`)
    return undefined
  }
}

async function check(victim, model, whose, when, fail) {
  const problems = await victim.call("verify", { expected: model.expected() })
  for (const problem of problems.slice(0, 10))
    fail(`${typeof when === "number" ? `restart after kill ${when}` : when}: ${whose} acknowledged write lost: ${problem}`)
  if (problems.length > 10) fail(`... ${problems.length - 10} more lost writes`)
}

/** How to replay a crash run. */
export function crashReplayCommand({ seed, kills }) {
  return `npx tsc -b packages/node && node test/reliability/soak.mjs --only=crash --seed=${seed} --kills=${kills}`
}
