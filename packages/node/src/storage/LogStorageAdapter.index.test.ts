import { copyFile, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { flipByte, logPath, offsetOf } from "../../test/helpers/logFile.js"
import { LogStorageAdapter } from "./LogStorageAdapter.js"

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-log-index-"))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function open(dir: string): Promise<LogStorageAdapter> {
  const adapter = await LogStorageAdapter.open(dir)
  cleanup.push(() => adapter.close())
  return adapter
}

const indexPath = (dir: string) => join(dir, "storage.log.index")
const bytes = (text: string) => new TextEncoder().encode(text)

/** Every key with its value, in the order loadRange gives them, per group, plus a key that is gone. */
async function contents(adapter: LogStorageAdapter) {
  return {
    docs: await adapter.loadRange(["doc"]),
    others: await adapter.loadRange(["other"]),
    gone: await adapter.load(["doc", "removed"]),
  }
}

/** Saves of several groups, overwrites, removes and a batch. */
async function fill(adapter: LogStorageAdapter, round: number) {
  for (let i = 0; i < 30; i++) await adapter.save(["doc", `k${i % 12}`], bytes(`r${round} v${i}`))
  await adapter.saveBatch(Array.from({ length: 5 }, (_, i) => ({ key: ["other", `b${i}`], data: bytes(`r${round} batch ${i}`) })))
  await adapter.save(["doc", "removed"], bytes("soon gone"))
  await adapter.remove(["doc", "removed"])
  await adapter.remove(["doc", `k${round % 12}`])
}

/** What a full scan of the log in `dir` finds (the index moved away and back). */
async function scanned(dir: string) {
  const saved = await readFile(indexPath(dir)).catch(() => undefined)
  await rm(indexPath(dir), { force: true })
  const adapter = await LogStorageAdapter.open(dir)
  expect(adapter.stats().openedFrom).toBe("scan")
  const found = await contents(adapter)
  await rm(indexPath(dir), { force: true })
  await adapter.close()
  if (saved) await writeFile(indexPath(dir), saved)
  return found
}

describe("LogStorageAdapter's saved index", () => {
  it("opens from the index saved at close, and from an older one by scanning only the records after it", async () => {
    const dir = await tempDir()
    const first = await open(dir)
    await fill(first, 1)
    const before = await contents(first)
    await first.close()
    const old = await readFile(indexPath(dir))
    const oldLength = (await stat(logPath(dir))).size

    const second = await open(dir)
    expect(second.stats()).toMatchObject({ openedFrom: "saved index", scannedBytes: 0 })
    expect(await contents(second)).toStrictEqual(before)
    await fill(second, 2)
    const after = await contents(second)
    await second.close()

    // The index of the first close, as a crash after more writes leaves it: the records after it are scanned.
    await writeFile(indexPath(dir), old)
    const third = await open(dir)
    const size = (await stat(logPath(dir))).size
    expect(third.stats()).toMatchObject({ openedFrom: "saved index", scannedBytes: size - oldLength })
    expect(size - oldLength).toBeGreaterThan(0)
    expect(await contents(third)).toStrictEqual(after)
    await third.close()
    expect(await scanned(dir)).toStrictEqual(after)
  })

  it("scans the whole log when the index is torn or garbled, and finds the same contents", async () => {
    const dir = await tempDir()
    const adapter = await open(dir)
    await fill(adapter, 1)
    const before = await contents(adapter)
    await adapter.close()
    const whole = await readFile(indexPath(dir))
    const damages: [string, Buffer][] = [
      ["torn", whole.subarray(0, whole.length >> 1)],
      ["empty", Buffer.alloc(0)],
      ["garbled", Buffer.from(whole.map((byte, i) => (i === whole.length - 40 ? byte ^ 0x10 : byte)))],
      ["not an index", Buffer.from("something else entirely")],
    ]
    for (const [what, damaged] of damages) {
      await writeFile(indexPath(dir), damaged)
      const reopened = await LogStorageAdapter.open(dir)
      expect(reopened.stats().openedFrom, what).toBe("scan")
      expect(await contents(reopened), what).toStrictEqual(before)
      expect(reopened.damaged, what).toEqual([])
      await reopened.close()
    }
  })

  it("ignores an index newer than the log, or one the log no longer matches, and reports damage on every open", async () => {
    const dir = await tempDir()
    const adapter = await open(dir)
    await fill(adapter, 1)
    const older = await contents(adapter)
    await adapter.close()
    await copyFile(logPath(dir), join(dir, "older.log"))
    const again = await open(dir)
    await fill(again, 2)
    await again.close()
    // The log restored from a copy older than the index: it covers more than the log holds.
    await copyFile(join(dir, "older.log"), logPath(dir))
    const restored = await open(dir)
    expect(restored.stats().openedFrom).toBe("scan")
    expect(await contents(restored)).toStrictEqual(older)
    await restored.close()

    // A log of the same length as the index covers, damaged since: the index's checksum of it no longer holds.
    await flipByte(dir, await offsetOf(dir, "r1 v29"))
    for (let open = 0; open < 2; open++) {
      const damaged = await LogStorageAdapter.open(dir)
      expect(damaged.stats().openedFrom).toBe("scan")
      expect(damaged.damaged).toEqual([expect.objectContaining({ reason: "checksum", foundWhen: "open" })])
      await damaged.close()
    }
  })

  it("saves the index of the new log at a compaction, and a cut-back log is scanned", async () => {
    const dir = await tempDir()
    const adapter = await open(dir)
    await fill(adapter, 1)
    await fill(adapter, 2)
    await adapter.compact()
    const compacted = await readFile(indexPath(dir))
    await adapter.save(["doc", "after"], bytes("after the compaction"))
    const before = await contents(adapter)
    await adapter.close()
    // As if the process died after the compaction: its index, and the record after it.
    await writeFile(indexPath(dir), compacted)
    const reopened = await open(dir)
    expect(reopened.stats().openedFrom).toBe("saved index")
    expect(reopened.stats().scannedBytes).toBeGreaterThan(0)
    expect(await contents(reopened)).toStrictEqual(before)
    expect(new TextDecoder().decode(await reopened.load(["doc", "after"]))).toBe("after the compaction")
    await reopened.close()
    // A torn tail cut back past what the index covers: ignored.
    await truncate(logPath(dir), (await stat(logPath(dir))).size - 3)
    const cut = await open(dir)
    expect(cut.stats().openedFrom).toBe("scan")
    expect(cut.damaged).toEqual([expect.objectContaining({ reason: "torn-tail" })])
  })
})
