/**
 * The conformance suite every storage adapter Cairn runs on passes:
 * automerge-repo's `StorageAdapterInterface` as Cairn uses it (keys, ranges
 * by prefix, chunks, binary values, concurrent writes) and, for stores that
 * persist, what a database needs of its disk (reopen, a crash between
 * writes, damage reported rather than thrown).
 *
 *   registerCases("log storage", storageConformance(subject))   // Node, under Vitest
 *   await runCases(storageConformance(subject))                   // in a browser page
 *
 * A store that cannot do a part says why in `cannot`; the case is then
 * skipped and reported by name. One that does not say so must provide the
 * hook, or the case fails.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import { check, checkBytes, checkEqual, pattern, type ConformanceCase } from "./runner.js"

/** The parts of the suite a store may be unable to do. */
export type StoragePart = "persist" | "crash" | "damage" | "batch"

export interface StorageUnderTest {
  /** A fresh, empty store. */
  open(): Promise<StoreUnderTest>
  /** Parts this store cannot do, each with why. */
  readonly cannot?: Partial<Record<StoragePart, string>>
}

/** What a crash test writes: `acknowledged` first, each save awaited, then `inFlight` while the writer is killed. */
export interface CrashPlan {
  readonly acknowledged: readonly Chunk[]
  readonly inFlight: readonly Chunk[]
}

export interface CrashOutcome {
  /** The store opened again after the writer died. */
  readonly adapter: StorageAdapterInterface
  /** Keys whose save the killed writer saw resolve (every `acknowledged` one, and some in flight). */
  readonly acknowledged: readonly StorageKey[]
}

export interface DamageOutcome {
  /** The store opened again over the damaged data (opening must not throw). */
  readonly adapter: StorageAdapterInterface
  /** What the adapter reported damaged; empty means the damage went unnoticed. */
  readonly reported: readonly unknown[]
}

export interface StoreUnderTest {
  readonly adapter: StorageAdapterInterface
  /** Close the adapter and open the same store again (required unless `cannot.persist`). */
  reopen?(): Promise<StorageAdapterInterface>
  /**
   * Run `plan` in a writer of its own (a child process, for a file store),
   * kill it without warning during the in-flight saves, and open the store
   * again (required unless `cannot.crash`).
   */
  crash?(plan: CrashPlan): Promise<CrashOutcome>
  /**
   * Close the store, damage the record of `victim` (the last chunk saved) on
   * disk — cut it short, or flip a byte of its value — and open the store
   * again (required unless `cannot.damage`).
   */
  damage?(how: "truncate" | "corrupt", victim: Chunk): Promise<DamageOutcome>
  /** Close it and delete what it stored. */
  dispose(): Promise<void>
}

const MiB = 1024 * 1024

export function storageConformance(subject: StorageUnderTest): ConformanceCase[] {
  const cases: ConformanceCase[] = []
  const add = (name: string, run: (store: StoreUnderTest) => Promise<void>, part?: StoragePart) => {
    const skip = part === undefined ? undefined : subject.cannot?.[part]
    cases.push({
      name,
      ...(skip !== undefined ? { skip } : {}),
      run: async () => {
        const store = await subject.open()
        try {
          await run(store)
        } finally {
          await store.dispose()
        }
      },
    })
  }

  add("loads nothing for a key never saved", async ({ adapter }) => {
    checkEqual(await adapter.load(["doc", "snapshot", "h"]), undefined, "load of a missing key")
    checkEqual(await adapter.loadRange(["doc"]), [], "loadRange of a missing prefix")
  })

  add("loads what was saved, under keys of one part or several and of any characters", async ({ adapter }) => {
    const keys: StorageKey[] = [
      ["storage-adapter-id"],
      ["doc", "sync-state", "peer"],
      ["with/slash", "back\\slash", 'quote"', ".."],
      ["ünïcødé", "🙂"],
      ["", "empty part"],
    ]
    for (const [i, key] of keys.entries()) await adapter.save(key, pattern(10 + i, i))
    for (const [i, key] of keys.entries()) checkBytes(await adapter.load(key), pattern(10 + i, i), `load(${JSON.stringify(key)})`)
    checkEqual(await adapter.load(["doc", "sync-state"]), undefined, "load of a prefix of a saved key")
  })

  add("removes one key, and removing a missing key is harmless", async ({ adapter }) => {
    await adapter.save(["doc", "snapshot", "a"], pattern(4))
    await adapter.save(["doc", "snapshot", "b"], pattern(4, 1))
    await adapter.remove(["doc", "snapshot", "a"])
    await adapter.remove(["doc", "snapshot", "never"])
    checkEqual(await adapter.load(["doc", "snapshot", "a"]), undefined, "the removed key")
    checkEqual(await keysOf(adapter, ["doc"]), [["doc", "snapshot", "b"]], "keys left under the document")
  })

  add("overwrites: the last save of a key wins, and the key is listed once", async ({ adapter }) => {
    await adapter.save(["doc", "sync-state", "p"], pattern(6, 1))
    await adapter.save(["doc", "sync-state", "p"], pattern(3, 2))
    checkBytes(await adapter.load(["doc", "sync-state", "p"]), pattern(3, 2), "the overwritten value")
    const chunks = await adapter.loadRange(["doc"])
    checkEqual(chunks.length, 1, "chunks under the document")
    checkBytes(chunks[0]!.data, pattern(3, 2), "the overwritten value in loadRange")
  })

  add("loadRange matches whole key parts: [a, b] matches [a, b] and [a, b, …], never [a, bc]", async ({ adapter }) => {
    for (const key of [["a", "b"], ["a", "b", "c"], ["a", "bc"], ["a", "bc", "d"], ["ab", "c"], ["a"], ["b", "a"]])
      await adapter.save(key, pattern(2))
    checkEqual(
      await keysOf(adapter, ["a", "b"]),
      sorted([
        ["a", "b"],
        ["a", "b", "c"],
      ]),
      "loadRange([a, b])",
    )
    checkEqual(await keysOf(adapter, ["a"]), sorted([["a"], ["a", "b"], ["a", "b", "c"], ["a", "bc"], ["a", "bc", "d"]]), "loadRange([a])")
    checkEqual(await keysOf(adapter, ["a", "b", "c", "d"]), [], "loadRange past the longest key")
    checkEqual((await keysOf(adapter, [])).length, 7, "loadRange([]) lists every key")
  })

  add("removeRange removes the prefix's keys only, not a longer sibling's", async ({ adapter }) => {
    for (const key of [["a", "b"], ["a", "b", "c"], ["a", "bc"], ["ab"], ["b"]]) await adapter.save(key, pattern(2))
    await adapter.removeRange(["a", "b"])
    checkEqual(await keysOf(adapter, []), sorted([["a", "bc"], ["ab"], ["b"]]), "keys after removeRange([a, b])")
    await adapter.removeRange(["a"])
    checkEqual(await keysOf(adapter, []), sorted([["ab"], ["b"]]), "keys after removeRange([a])")
  })

  add("holds a document's many chunks, lists them by type, and removes them together", async ({ adapter }) => {
    const incrementals = Array.from({ length: 200 }, (_, i) => ({ key: ["doc", "incremental", `h${i}`], data: pattern(50 + i, i) }))
    await adapter.save(["doc", "snapshot", "s"], pattern(1000))
    await adapter.save(["other", "snapshot", "s"], pattern(10))
    for (const chunk of incrementals) await adapter.save(chunk.key, chunk.data)
    const found = new Map((await adapter.loadRange(["doc", "incremental"])).map(chunk => [chunk.key.join("/"), chunk.data]))
    checkEqual(found.size, 200, "incremental chunks listed")
    for (const chunk of incrementals) checkBytes(found.get(chunk.key.join("/")), chunk.data, `chunk ${chunk.key.join("/")}`)
    checkEqual((await adapter.loadRange(["doc"])).length, 201, "every chunk of the document")
    await adapter.removeRange(["doc"])
    checkEqual(await keysOf(adapter, []), [["other", "snapshot", "s"]], "keys after removing the document")
  })

  add("keeps values intact: empty, every byte value, 8 MiB, and a view into a larger buffer", async ({ adapter }) => {
    const large = pattern(8 * MiB, 3)
    const backing = pattern(100, 5)
    const view = backing.subarray(10, 30)
    await adapter.save(["empty"], new Uint8Array(0))
    await adapter.save(["bytes"], pattern(256))
    await adapter.save(["large"], large)
    await adapter.save(["view"], view)
    checkBytes(await adapter.load(["empty"]), new Uint8Array(0), "the empty value")
    checkBytes(await adapter.load(["bytes"]), pattern(256), "every byte value")
    checkBytes(await adapter.load(["large"]), large, "the 8 MiB value")
    checkBytes(await adapter.load(["view"]), backing.slice(10, 30), "the view's bytes")
    checkBytes((await adapter.loadRange(["large"]))[0]?.data, large, "the 8 MiB value through loadRange")
  })

  add("keeps its own copy: changing an array once its save resolved, or a loaded one, changes nothing stored", async ({ adapter }) => {
    const data = pattern(16)
    await adapter.save(["k"], data)
    data.fill(0)
    ;(await adapter.load(["k"]))?.fill(0)
    const [chunk] = await adapter.loadRange(["k"])
    chunk?.data?.fill(0)
    checkBytes(await adapter.load(["k"]), pattern(16), "the stored value")
  })

  add("takes concurrent saves to different keys: every one lands", async ({ adapter }) => {
    const chunks = Array.from({ length: 100 }, (_, i) => ({ key: [`doc${i % 10}`, "incremental", `h${i}`], data: pattern(100 + i, i) }))
    await Promise.all(chunks.map(chunk => adapter.save(chunk.key, chunk.data)))
    for (const chunk of chunks) checkBytes(await adapter.load(chunk.key), chunk.data, `load(${chunk.key.join("/")})`)
    checkEqual((await adapter.loadRange([])).length, 100, "keys stored")
  })

  add("orders concurrent writes to one key: the last one called wins", async ({ adapter }) => {
    const key = ["doc", "sync-state", "p"]
    await Promise.all(Array.from({ length: 20 }, (_, i) => adapter.save(key, pattern(10, i))))
    checkBytes(await adapter.load(key), pattern(10, 19), "after 20 concurrent saves")
    await Promise.all([adapter.save(key, pattern(5, 1)), adapter.remove(key)])
    checkEqual(await adapter.load(key), undefined, "after a save and then a remove")
    await Promise.all([adapter.remove(key), adapter.save(key, pattern(5, 2))])
    checkBytes(await adapter.load(key), pattern(5, 2), "after a remove and then a save")
    await Promise.all([
      adapter.save(["doc", "incremental", "1"], pattern(3)),
      adapter.removeRange(["doc"]),
      adapter.save(["doc", "incremental", "2"], pattern(3)),
    ])
    checkEqual(await keysOf(adapter, ["doc"]), [["doc", "incremental", "2"]], "after save, removeRange, save")
  })

  add(
    "persists: a reopened store holds what was saved, overwritten and removed",
    async store => {
      const reopen = required(store.reopen, "reopen", "persist")
      const { adapter } = store
      const large = pattern(2 * MiB, 7)
      await adapter.save(["doc", "snapshot", "s"], pattern(300))
      await adapter.save(["doc", "incremental", "i"], pattern(20, 1))
      await adapter.save(["doc", "incremental", "i"], pattern(20, 2))
      await adapter.save(["doc", "sync-state", "p"], pattern(20, 3))
      await adapter.remove(["doc", "sync-state", "p"])
      await adapter.save(["gone", "snapshot", "s"], pattern(20, 4))
      await adapter.removeRange(["gone"])
      await adapter.save(["large"], large)
      await adapter.save(["empty"], new Uint8Array(0))
      const reopened = await reopen()
      checkEqual(
        await keysOf(reopened, []),
        sorted([["doc", "snapshot", "s"], ["doc", "incremental", "i"], ["large"], ["empty"]]),
        "keys after reopening",
      )
      checkBytes(await reopened.load(["doc", "snapshot", "s"]), pattern(300), "the snapshot")
      checkBytes(await reopened.load(["doc", "incremental", "i"]), pattern(20, 2), "the overwritten chunk")
      checkBytes(await reopened.load(["large"]), large, "the 2 MiB value")
      checkBytes(await reopened.load(["empty"]), new Uint8Array(0), "the empty value")
      await reopened.save(["after"], pattern(4))
      checkBytes(await reopened.load(["after"]), pattern(4), "a save after reopening")
    },
    "persist",
  )

  add(
    "survives a writer killed mid-write: every acknowledged save is intact, an unfinished one absent or whole",
    async store => {
      const crash = required(store.crash, "crash", "crash")
      const acknowledged = Array.from({ length: 20 }, (_, i) => ({
        key: [`doc${i % 4}`, "incremental", `a${i}`],
        data: pattern(1000 + i * 100, i),
      }))
      const inFlight = Array.from({ length: 40 }, (_, i) => ({
        key: [`doc${i % 4}`, "incremental", `f${i}`],
        data: pattern(256 * 1024 + i, i + 50),
      }))
      const outcome = await crash.call(store, { acknowledged, inFlight })
      const acked = new Set(outcome.acknowledged.map(key => key.join("/")))
      for (const chunk of acknowledged)
        check(acked.has(chunk.key.join("/")), `the writer never saw ${chunk.key.join("/")} acknowledged; the crash came too early`)
      check(acked.size < acknowledged.length + inFlight.length, "every write finished before the kill; no write was in flight")
      const found = new Map((await outcome.adapter.loadRange([])).map(chunk => [chunk.key.join("/"), chunk.data]))
      for (const chunk of [...acknowledged, ...inFlight]) {
        const id = chunk.key.join("/")
        const data = found.get(id)
        if (acked.has(id)) checkBytes(data, chunk.data, `acknowledged ${id}`)
        else if (data !== undefined) checkBytes(data, chunk.data, `unfinished ${id}, found after the crash`)
      }
      check(found.size <= acknowledged.length + inFlight.length, "keys that were never written appeared")
      await outcome.adapter.save(["after"], pattern(4))
      checkBytes(await outcome.adapter.load(["after"]), pattern(4), "a save after the crash")
    },
    "crash",
  )

  add(
    "saves a batch whole: every chunk loads once it resolved and after reopening, a key given twice keeping its last value",
    async store => {
      const adapter = atomic(store.adapter)
      const chunks = Array.from({ length: 30 }, (_, i) => ({
        key: [`doc${i % 6}`, "incremental", `b${i}`],
        data: pattern(100 + i * 37, i),
      }))
      await adapter.saveBatch([...chunks, { key: ["doc0", "incremental", "b0"], data: pattern(7, 77) }])
      checkBytes(await adapter.load(["doc0", "incremental", "b0"]), pattern(7, 77), "a chunk given twice")
      const reopened = store.reopen ? await store.reopen() : adapter
      for (const [i, chunk] of chunks.entries())
        checkBytes(await reopened.load(chunk.key), i === 0 ? pattern(7, 77) : chunk.data, `${chunk.key.join("/")} after reopening`)
      checkEqual((await reopened.loadRange(["doc1"])).length, 5, "chunks of one document")
      await atomic(reopened).saveBatch([])
      checkEqual((await reopened.loadRange([])).length, 30, "keys after an empty batch")
    },
    "batch",
  )

  add(
    "rejects a batch with an invalid value, naming its key, and saves none of it",
    async ({ adapter }) => {
      const good = { key: ["good", "incremental", "g"], data: pattern(10) }
      let error: unknown
      await atomic(adapter)
        .saveBatch([good, { key: ["bad", "incremental", "b"], data: "not bytes" as unknown as Uint8Array }])
        .catch(e => (error = e))
      check(error instanceof Error && error.message.includes('"bad"'), `the error names the bad key: ${String(error)}`)
      checkEqual(await adapter.load(good.key), undefined, "the valid chunk of the rejected batch")
    },
    "batch",
  )

  for (const how of ["truncate", "corrupt"] as const) {
    const what = how === "truncate" ? "cut short" : "with a flipped byte"
    add(
      `reports a record ${what} instead of throwing, and keeps what was stored before it`,
      async store => {
        const damage = required(store.damage, "damage", "damage")
        const before = Array.from({ length: 10 }, (_, i) => ({ key: [`doc${i}`, "snapshot", "s"], data: pattern(500 + i, i) }))
        for (const chunk of before) await store.adapter.save(chunk.key, chunk.data)
        const victim = { key: ["victim", "incremental", "v"], data: pattern(4096, 99) }
        await store.adapter.save(victim.key, victim.data)
        const outcome = await damage.call(store, how, victim)
        check(outcome.reported.length > 0, `the ${how === "truncate" ? "truncated" : "corrupted"} record was not reported`)
        for (const chunk of before)
          checkBytes(await outcome.adapter.load(chunk.key), chunk.data, `${chunk.key.join("/")}, saved before the damage`)
        const victimNow = await outcome.adapter.load(victim.key)
        if (victimNow !== undefined) checkBytes(victimNow, victim.data, "the damaged record, if loaded at all")
        checkEqual((await outcome.adapter.loadRange(["doc0"])).length, 1, "loadRange over intact records")
        await outcome.adapter.save(["after"], pattern(4))
        checkBytes(await outcome.adapter.load(["after"]), pattern(4), "a save after the damage")
      },
      "damage",
    )
  }

  return cases
}

async function keysOf(adapter: StorageAdapterInterface, prefix: StorageKey): Promise<StorageKey[]> {
  return sorted((await adapter.loadRange(prefix)).map(chunk => [...chunk.key]))
}

/** Keys in one order, so stores that list in insertion order and those that list in key order compare equal. */
function sorted(keys: StorageKey[]): StorageKey[] {
  return [...keys].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
}

/** The adapter's batch (see AtomicStorage); a store that offers none must say so in cannot.batch. */
function atomic(adapter: StorageAdapterInterface): StorageAdapterInterface & { saveBatch(chunks: Chunk[]): Promise<void> } {
  const batch = adapter as StorageAdapterInterface & { saveBatch?: (chunks: Chunk[]) => Promise<void> }
  check(typeof batch.saveBatch === "function", "the store gives no saveBatch() and does not say why in cannot.batch")
  return batch as StorageAdapterInterface & { saveBatch(chunks: Chunk[]): Promise<void> }
}

function required<T>(hook: T | undefined, name: string, part: StoragePart): T {
  check(hook !== undefined, `the store gives no ${name}() and does not say why in cannot.${part}`)
  return hook
}
