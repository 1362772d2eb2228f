// What a workload gets from the runner: peer processes, scratch
// directories, document fixtures, taps, and the alternating repetition loop.
import { Worker } from "./Worker.mjs"

export const KINDS = ["cairn", "plain"]

/** Documents a Cairn fixture process creates before the next one takes over. */
const FIXTURE_SESSION = 1000

export class Context {
  #shared = new Map()
  #notes = new Map()

  constructor({ quick, large = false, docs, reps, plainReps, profileDir, scratch, log }) {
    this.quick = quick
    /** Also the sizes of 100,000 documents (minutes each). */
    this.large = large
    this.docs = docs
    this.reps = reps
    this.plainReps = plainReps
    this.profileDir = profileDir
    this.scratch = scratch
    this.log = log
  }

  /** How many documents a workload of `full` documents uses: fewer in quick mode, `--docs` if given. */
  documents(full) {
    return this.docs ?? (this.quick ? 100 : full)
  }

  /** How long a sync may run before it is reported as not finished. */
  get syncTimeoutMs() {
    return this.quick ? 60_000 : 30 * 60_000
  }

  /** A peer process of `kind` ("cairn", "plain" or "pouch"). */
  spawn(kind, label) {
    return Worker.start(kind, label, { profileDir: this.profileDir })
  }

  /** Run `work` with a peer process, stopping it afterwards whatever happens. */
  async withPeer(kind, label, work) {
    const peer = await this.spawn(kind, label)
    try {
      return await work(peer)
    } finally {
      await peer.stop()
    }
  }

  /**
   * Measure both kinds `reps` times, alternating which goes first, so drift
   * in the machine's load falls on both alike. Returns the results per kind.
   * With `slowPlain`, plain automerge-repo runs only `plainReps` of them (at
   * 10,000 documents one plain run takes many minutes). `kinds` are the
   * sides compared (the P workloads: Cairn and PouchDB's variants).
   */
  async alternate(label, measure, { reps = this.reps, slowPlain = false, kinds = KINDS } = {}) {
    const results = Object.fromEntries(kinds.map(kind => [kind, []]))
    const plainReps = slowPlain ? Math.min(reps, this.plainReps) : reps
    for (let rep = 0; rep < reps; rep++) {
      for (const kind of rep % 2 === 0 ? kinds : [...kinds].reverse()) {
        if (kind === "plain" && rep >= plainReps) continue
        const result = await measure(kind, rep)
        results[kind].push(result)
        this.log(`${label} · ${kind} #${rep + 1}: ${brief(result)}`)
      }
    }
    return results
  }

  /**
   * Something expensive to make (a source peer with every document loaded)
   * that several workloads use: made once, stopped by `close()` at the end.
   */
  shared(key, make) {
    if (!this.#shared.has(key)) this.#shared.set(key, make())
    return this.#shared.get(key)
  }

  /** Leave a value (a synced directory) for a later workload in this run. */
  note(key, value) {
    this.#notes.set(key, value)
  }

  recall(key) {
    return this.#notes.get(key)
  }

  async close() {
    for (const made of this.#shared.values()) {
      const value = await made.catch(() => undefined)
      await value?.peer?.stop()
    }
    this.#shared.clear()
  }

  /**
   * A directory of `count` documents made by a peer of `kind` (cycling
   * through `typeNames`), made once per run; copy it before opening it.
   */
  populated(kind, count, typeNames = ["task"]) {
    return this.scratch.once(`${kind}-${count}-${typeNames.length === 1 ? typeNames[0] : `${typeNames.length}types`}`, async dir => {
      const started = performance.now()
      if (kind === "plain") await this.withPeer(kind, "fixture", peer => peer.call("writeDocuments", { dir, count, typeNames }))
      if (kind === "pouch")
        await this.withPeer(kind, "fixture", async peer => {
          await peer.call("open", { dir })
          await peer.call("create", { count, typeNames, design: typeNames.length > 1 })
        })
      // A process that has created a few thousand documents slows down sharply (automerge-repo's DocHandle
      // machinery and garbage collection, on both sides; see BENCHMARKS.md): with a new process per 1,000,
      // making 10,000 takes under a minute instead of about five.
      for (let first = 0; kind === "cairn" && first < count; first += FIXTURE_SESSION) {
        await this.withPeer(kind, "fixture", async peer => {
          await peer.call("open", { dir })
          await peer.call("create", { count: Math.min(FIXTURE_SESSION, count - first), first, typeNames, chunk: 500 })
        })
      }
      this.log(
        `fixture: ${count} ${typeNames.length === 1 ? typeNames[0] : `documents of ${typeNames.length} types`} (${kind}) made in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      )
    })
  }
}

function brief(result) {
  if (!result || typeof result !== "object") return String(result)
  return Object.entries(result)
    .filter(([k, v]) => (typeof v === "number" && !k.endsWith("At")) || typeof v === "boolean")
    .map(([k, v]) => `${k}=${typeof v === "number" ? (Number.isInteger(v) ? v : v.toFixed(1)) : v}`)
    .join(" ")
}
