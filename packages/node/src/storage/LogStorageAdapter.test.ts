import { mkdtemp, open, readFile, rm, stat, truncate, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it, vi } from "vitest"
import { Repo, type AutomergeUrl } from "@automerge/automerge-repo"
import { runStorageAdapterTests } from "@automerge/automerge-repo/helpers/tests/storage-adapter-tests.js"
import { InvalidStorageKeyError, StorageClosedError, StorageFailedError, StorageFormatError } from "./errors.js"
import { flipByte, logPath, offsetOf } from "../../test/helpers/logFile.js"
import { LogStorageAdapter, type LogStorageOptions } from "./LogStorageAdapter.js"

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-log-"))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function openAdapter(dir: string, options: LogStorageOptions = {}): Promise<LogStorageAdapter> {
  const adapter = await LogStorageAdapter.open(dir, options)
  cleanup.push(() => adapter.close())
  return adapter
}

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array | undefined) => (data === undefined ? undefined : new TextDecoder().decode(data))

/** The prototype of Node's FileHandle, to count or fail its fdatasync calls. */
async function fileHandlePrototype(dir: string): Promise<{ datasync: () => Promise<void> }> {
  const handle = await open(join(dir, "probe"), "w")
  await handle.close()
  return Object.getPrototypeOf(handle)
}

describe("LogStorageAdapter", () => {
  describe("automerge-repo's acceptance tests", () => {
    runStorageAdapterTests(async () => {
      const dir = await mkdtemp(join(tmpdir(), "cairn-log-"))
      const adapter = await LogStorageAdapter.open(dir)
      const teardown = async () => {
        await adapter.close()
        await rm(dir, { recursive: true, force: true })
      }
      return { adapter, teardown }
    })
  })

  it("round-trips values of every size, including empty ones, and keys with any characters", async () => {
    const adapter = await openAdapter(await tempDir())
    const large = new Uint8Array(3_000_000).map((_, i) => (i * 7) & 0xff)
    const keys = [["a", "b"], ["with/slash", "and\\back", 'quote"'], ["ünïcødé", "🙂"], ["", ""], ["storage-adapter-id"]]
    for (const key of keys) await adapter.save(key, bytes(key.join("|")))
    await adapter.save(["empty"], new Uint8Array(0))
    await adapter.save(["large"], large)
    for (const key of keys) expect(text(await adapter.load(key))).toBe(key.join("|"))
    expect(await adapter.load(["empty"])).toStrictEqual(new Uint8Array(0))
    // Compared as a Buffer: vitest's deep equality walks a typed array element by element, for seconds.
    expect(Buffer.from((await adapter.load(["large"]))!).equals(large)).toBe(true)
    expect(await adapter.load(["a"])).toBeUndefined()
  })

  it("matches prefixes part by part: [doc] matches [doc, ...] and [doc] itself, never [docAndMore, ...]", async () => {
    const adapter = await openAdapter(await tempDir())
    await adapter.save(["abc", "snapshot", "h1"], bytes("1"))
    await adapter.save(["abc", "incremental", "h2"], bytes("2"))
    await adapter.save(["abc"], bytes("3"))
    await adapter.save(["abcd", "snapshot", "h3"], bytes("4"))
    await adapter.save(["ab", "c", "snapshot"], bytes("5"))
    await adapter.save(["abc", "snapshots", "h4"], bytes("6"))
    const keysOf = async (prefix: string[]) => (await adapter.loadRange(prefix)).map(chunk => chunk.key.join("/"))
    expect(await keysOf(["abc"])).toEqual(["abc/snapshot/h1", "abc/incremental/h2", "abc", "abc/snapshots/h4"])
    expect(await keysOf(["abc", "snapshot"])).toEqual(["abc/snapshot/h1"])
    expect(await keysOf(["abc", "snapshot", "h1"])).toEqual(["abc/snapshot/h1"])
    expect(await keysOf(["abc", "snapshot", "h1", "more"])).toEqual([])
    expect(await keysOf(["ab"])).toEqual(["ab/c/snapshot"])
    expect(await keysOf([])).toHaveLength(6)
    await adapter.removeRange(["abc", "snapshot"])
    expect(await keysOf(["abc"])).toEqual(["abc/incremental/h2", "abc", "abc/snapshots/h4"])
    await adapter.removeRange(["abc"])
    expect(await keysOf([])).toEqual(["abcd/snapshot/h3", "ab/c/snapshot"])
  })

  it("matches prefixes whose parts contain quotes, backslashes and commas exactly", async () => {
    const adapter = await openAdapter(await tempDir())
    const firstParts = ['a"b', 'a"bc', "a\\", 'a\\"', "a", "a,b", 'a","b', "a]"]
    for (const part of firstParts) await adapter.save([part, "x"], bytes(part))
    await adapter.save(["a", "b"], bytes("a/b"))
    for (const part of firstParts) {
      const expected = part === "a" ? ["a", "a/b"] : [part]
      expect((await adapter.loadRange([part])).map(chunk => text(chunk.data))).toEqual(expected)
    }
    expect((await adapter.loadRange(["a", "b"])).map(chunk => chunk.key)).toEqual([["a", "b"]])
    await adapter.removeRange(['a","b'])
    expect(await adapter.loadRange(["a", "b"])).toHaveLength(1)
  })

  it("returns copies, so a caller changing a result or its saved buffer changes nothing stored", async () => {
    const adapter = await openAdapter(await tempDir())
    const data = bytes("original")
    const saving = adapter.save(["k", "v"], data)
    data.fill(0)
    ;(await adapter.load(["k", "v"]))!.fill(0)
    const [chunk] = await adapter.loadRange(["k"])
    chunk!.key[0] = "changed"
    await saving
    expect(text(await adapter.load(["k", "v"]))).toBe("original")
    expect((await adapter.loadRange(["k"]))[0]!.key).toEqual(["k", "v"])
  })

  it("sees a save or remove at once, before it is durable, and in call order", async () => {
    const adapter = await openAdapter(await tempDir())
    const first = adapter.save(["k"], bytes("1"))
    expect(text(await adapter.load(["k"]))).toBe("1")
    const second = adapter.save(["k"], bytes("2"))
    const removal = adapter.remove(["k"])
    const third = adapter.save(["k"], bytes("3"))
    expect(text(await adapter.load(["k"]))).toBe("3")
    await Promise.all([first, second, removal, third])
    await adapter.close()
    const reopened = await openAdapter(adapter.directory)
    expect(text(await reopened.load(["k"]))).toBe("3")
  })

  it("keeps values, overwrites, removes and key order across a reopen", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir)
    await adapter.save(["doc", "sync-state", "x"], bytes("a"))
    await adapter.save(["doc", "snapshot", "y"], bytes("b"))
    await adapter.save(["doc", "sync-state", "z"], bytes("c"))
    await adapter.save(["doc", "sync-state", "x"], bytes("a2"))
    await adapter.save(["gone", "1"], bytes("d"))
    await adapter.remove(["gone", "1"])
    await adapter.remove(["never", "saved"])
    const before = await adapter.loadRange(["doc"])
    await adapter.close()
    const reopened = await openAdapter(dir)
    expect(await reopened.loadRange(["doc"])).toStrictEqual(before)
    expect(before.map(chunk => text(chunk.data))).toEqual(["b", "c", "a2"])
    expect(await reopened.load(["gone", "1"])).toBeUndefined()
    expect(reopened.damaged).toEqual([])
  })

  it("cuts off a torn tail, reports it, and appends cleanly after it", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir)
    await adapter.save(["a"], bytes("first value"))
    await adapter.save(["b"], bytes("second value"))
    await adapter.close()
    const intactEnd = (await offsetOf(dir, '["b"]')) - 20
    const fullSize = (await stat(logPath(dir))).size
    await truncate(logPath(dir), fullSize - 5)
    const damages: unknown[] = []
    const reopened = await openAdapter(dir, { onDamage: damage => damages.push(damage) })
    expect(text(await reopened.load(["a"]))).toBe("first value")
    expect(await reopened.load(["b"])).toBeUndefined()
    expect(reopened.damaged).toEqual([expect.objectContaining({ reason: "torn-tail", foundWhen: "open" })])
    expect(damages).toEqual(reopened.damaged)
    expect((await stat(logPath(dir))).size).toBe(intactEnd)
    await reopened.save(["c"], bytes("third value"))
    await reopened.close()
    const again = await openAdapter(dir)
    expect(again.damaged).toEqual([])
    expect(text(await again.load(["c"]))).toBe("third value")
  })

  it("treats zeros after the last record (a crash after the file grew) as a torn tail", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir)
    await adapter.save(["a"], bytes("value"))
    await adapter.close()
    const size = (await stat(logPath(dir))).size
    await truncate(logPath(dir), size + 4096)
    const reopened = await openAdapter(dir)
    expect(text(await reopened.load(["a"]))).toBe("value")
    expect(reopened.damaged).toEqual([{ offset: size, length: 4096, reason: "torn-tail", foundWhen: "open" }])
    expect((await stat(logPath(dir))).size).toBe(size)
  })

  it("skips a record with a flipped byte in its value, keeps every other record, and names the damaged key", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir)
    for (let i = 0; i < 5; i++) await adapter.save(["doc", `chunk-${i}`], bytes(`value number ${i}`))
    await adapter.close()
    await flipByte(dir, await offsetOf(dir, "value number 2"))
    const reopened = await openAdapter(dir)
    const loaded = await reopened.loadRange(["doc"])
    expect(loaded.map(chunk => text(chunk.data))).toEqual(["value number 0", "value number 1", "value number 3", "value number 4"])
    expect(reopened.damaged).toEqual([expect.objectContaining({ reason: "checksum", key: ["doc", "chunk-2"], foundWhen: "open" })])
  })

  it("skips to the next intact record when a header is damaged", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir)
    for (let i = 0; i < 5; i++) await adapter.save(["doc", `chunk-${i}`], bytes(`value number ${i}`))
    await adapter.close()
    // 20-byte header, then the key as JSON: the value-length field sits 12 bytes before the header's end.
    const keyStart = await offsetOf(dir, '["doc","chunk-2"]')
    await flipByte(dir, keyStart - 12)
    const reopened = await openAdapter(dir)
    expect((await reopened.loadRange(["doc"])).map(chunk => chunk.key[1])).toEqual(["chunk-0", "chunk-1", "chunk-3", "chunk-4"])
    expect(reopened.damaged).toEqual([expect.objectContaining({ offset: keyStart - 20, reason: "header", foundWhen: "open" })])
  })

  it("finds damage that appears after open when reading, and loads it as missing", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir)
    await adapter.save(["doc", "a"], bytes("healthy"))
    await adapter.save(["doc", "b"], bytes("will rot"))
    await flipByte(dir, await offsetOf(dir, "will rot"))
    expect(await adapter.loadRange(["doc"])).toStrictEqual([{ key: ["doc", "a"], data: bytes("healthy") }])
    expect(await adapter.load(["doc", "b"])).toBeUndefined()
    expect(adapter.damaged).toEqual([expect.objectContaining({ reason: "checksum", key: ["doc", "b"], foundWhen: "read" })])
  })

  it("compacts once dead bytes outweigh live ones, keeping the latest values and their order", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir, { compactMinDeadBytes: 4096 })
    const value = (i: number, round: number) => bytes(`${round}:`.padEnd(200, String(i % 10)))
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => adapter.save(["doc", String(i)], value(i, round))))
      await adapter.remove(["doc", "0"])
    }
    const stats = adapter.stats()
    expect(stats.compactions).toBeGreaterThan(0)
    expect(stats.keys).toBe(49)
    expect(stats.fileBytes).toBeLessThanOrEqual(2 * stats.liveBytes + 4096 + 16)
    const before = await adapter.loadRange(["doc"])
    expect(before.map(chunk => text(chunk.data))).toEqual(Array.from({ length: 49 }, (_, i) => text(value(i + 1, 19))))
    await adapter.close()
    const reopened = await openAdapter(dir)
    expect(await reopened.loadRange(["doc"])).toStrictEqual(before)
    expect(reopened.damaged).toEqual([])
  })

  it("compacts on request while loads and saves go on", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir)
    for (let i = 0; i < 200; i++) await adapter.save(["doc", String(i % 20)], bytes(`v${i}`))
    const sizeBefore = adapter.stats().fileBytes
    const compacting = adapter.compact()
    const loads = Array.from({ length: 20 }, (_, i) => adapter.load(["doc", String(i)]))
    const saves = [adapter.save(["doc", "new"], bytes("during")), adapter.remove(["doc", "3"])]
    await Promise.all([compacting, ...saves])
    expect((await Promise.all(loads)).map(text)).toEqual(Array.from({ length: 20 }, (_, i) => `v${180 + i}`))
    expect(adapter.stats().fileBytes).toBeLessThan(sizeBefore / 5)
    expect(text(await adapter.load(["doc", "new"]))).toBe("during")
    await adapter.close()
    const reopened = await openAdapter(dir)
    expect(await reopened.load(["doc", "3"])).toBeUndefined()
    expect(text(await reopened.load(["doc", "new"]))).toBe("during")
    expect(text(await reopened.load(["doc", "19"]))).toBe("v199")
  })

  it("ignores a compaction that a crash interrupted", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir)
    await adapter.save(["a"], bytes("kept"))
    await adapter.close()
    await writeFile(join(dir, "storage.log.compacting"), "half a compaction")
    const reopened = await openAdapter(dir)
    expect(text(await reopened.load(["a"]))).toBe("kept")
    await expect(stat(join(dir, "storage.log.compacting"))).rejects.toThrow(/ENOENT/)
  })

  it("writes concurrent saves in one group commit with one fdatasync", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir)
    const datasync = vi.spyOn(await fileHandlePrototype(dir), "datasync")
    await Promise.all(Array.from({ length: 100 }, (_, i) => adapter.save(["doc", String(i)], bytes(`v${i}`))))
    expect(datasync).toHaveBeenCalledTimes(1)
    expect(await adapter.loadRange(["doc"])).toHaveLength(100)
  })

  it("skips fdatasync when fsync is off", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir, { fsync: false })
    const datasync = vi.spyOn(await fileHandlePrototype(dir), "datasync")
    await adapter.save(["a"], bytes("1"))
    expect(datasync).not.toHaveBeenCalled()
  })

  it("refuses every call after a failed fdatasync, and rejects the saves that were waiting", async () => {
    const dir = await tempDir()
    const adapter = await openAdapter(dir)
    await adapter.save(["before"], bytes("ok"))
    vi.spyOn(await fileHandlePrototype(dir), "datasync").mockRejectedValueOnce(Object.assign(new Error("EIO"), { code: "EIO" }))
    const results = await Promise.allSettled([adapter.save(["a"], bytes("1")), adapter.save(["b"], bytes("2"))])
    expect(results.map(result => result.status)).toEqual(["rejected", "rejected"])
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(StorageFailedError)
    await expect(adapter.load(["before"])).rejects.toThrow(StorageFailedError)
    await adapter.close()
    const reopened = await openAdapter(dir)
    expect(text(await reopened.load(["before"]))).toBe("ok")
  })

  it("names its errors: bad keys, closed storage, a file that is not a log", async () => {
    const dir = await tempDir()
    const adapter = await LogStorageAdapter.open(dir)
    await expect(adapter.save([1 as unknown as string], bytes("x"))).rejects.toThrow(InvalidStorageKeyError)
    await expect(adapter.save(["x".repeat(70_000)], bytes("x"))).rejects.toThrow(InvalidStorageKeyError)
    await adapter.close()
    await expect(adapter.load(["a"])).rejects.toThrow(StorageClosedError)
    const other = await tempDir()
    await writeFile(logPath(other), "not a cairn log, someone's precious data")
    await expect(LogStorageAdapter.open(other)).rejects.toThrow(StorageFormatError)
    expect(await readFile(logPath(other), "utf8")).toBe("not a cairn log, someone's precious data")
  })

  it("stores an automerge-repo Repo's documents, and a new Repo on the same directory finds them", async () => {
    const dir = await tempDir()
    const storage = await LogStorageAdapter.open(dir)
    const repo = new Repo({ storage, network: [] })
    const urls: AutomergeUrl[] = []
    for (let i = 0; i < 20; i++) {
      const handle = repo.create<{ title: string; done: boolean }>({ title: `task ${i}`, done: false })
      handle.change(doc => (doc.done = i % 2 === 0))
      urls.push(handle.url)
    }
    await repo.flush()
    await repo.shutdown()
    await storage.close()

    const reopened = await openAdapter(dir)
    const second = new Repo({ storage: reopened, network: [] })
    const docs = await Promise.all(urls.map(async url => (await second.find<{ title: string; done: boolean }>(url)).doc()))
    expect(docs.map(doc => doc.title)).toEqual(urls.map((_, i) => `task ${i}`))
    expect(docs.map(doc => doc.done)).toEqual(urls.map((_, i) => i % 2 === 0))
    await second.shutdown()
    expect(reopened.damaged).toEqual([])
  })
})
