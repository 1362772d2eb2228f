/**
 * The log's atomic batch (`saveBatch`): one record whose checksum covers all
 * of its saves, so a batch a crash tore is dropped whole on open, damage
 * next to it takes nothing of it, and a compaction keeps what is live of it.
 */
import { readFile, writeFile } from "node:fs/promises"
import { describe, expect, it } from "vitest"
import { afterThisTest, tempDir } from "../../test/helpers/afterEachTest.js"
import { flipByte, logPath, offsetOf } from "../../test/helpers/logFile.js"
import { LogStorageAdapter } from "./LogStorageAdapter.js"

async function openAdapter(dir: string): Promise<LogStorageAdapter> {
  const adapter = await LogStorageAdapter.open(dir)
  afterThisTest(() => adapter.close())
  return adapter
}

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array | undefined) => (data === undefined ? undefined : new TextDecoder().decode(data))
const BATCH_KEYS = [
  ["doc-a", "incremental", "1"],
  ["doc-b", "incremental", "1"],
  ["doc-c", "snapshot", "1"],
]
const batch = (tag: string) => BATCH_KEYS.map(key => ({ key, data: bytes(`${key[0]}:${tag}`.repeat(20)) }))

/** The values of the batch's keys in `adapter` (undefined where absent). */
const batchValues = async (adapter: LogStorageAdapter) => Promise.all(BATCH_KEYS.map(async key => text(await adapter.load(key))))

/** A log holding one put ("before"), then the batch, then two puts ("after", "last"); closed. Returns where the batch starts and ends. */
async function writeLog(dir: string): Promise<{ start: number; end: number }> {
  const adapter = await LogStorageAdapter.open(dir)
  await adapter.save(["before"], bytes("kept"))
  const start = (await readFile(logPath(dir))).length
  await adapter.saveBatch(batch("v1"))
  const end = (await readFile(logPath(dir))).length
  await adapter.save(["after"], bytes("after-value"))
  await adapter.save(["last"], bytes("last-value"))
  await adapter.close()
  return { start, end }
}

describe("LogStorageAdapter.saveBatch", () => {
  it("saves every chunk, seen at once and after reopening twice", async () => {
    const dir = await tempDir("cairn-batch-")
    const adapter = await LogStorageAdapter.open(dir)
    const saving = adapter.saveBatch(batch("v1"))
    expect(await batchValues(adapter)).toEqual(BATCH_KEYS.map(key => `${key[0]}:v1`.repeat(20)))
    await saving
    await adapter.close()
    for (let i = 0; i < 2; i++) {
      const reopened = await LogStorageAdapter.open(dir)
      expect(await batchValues(reopened)).toEqual(BATCH_KEYS.map(key => `${key[0]}:v1`.repeat(20)))
      expect(reopened.damaged).toEqual([])
      await reopened.close()
    }
  })

  it("drops a torn batch whole, wherever the tear is, keeps what came before, and goes on working", async () => {
    const dir = await tempDir("cairn-batch-")
    const { start, end } = await writeLog(dir)
    const original = await readFile(logPath(dir))
    // Cut inside the header, after the first member, in the middle, one byte short.
    const firstMember = (await offsetOf(dir, "doc-b")) - 20
    for (const cut of [start + 5, firstMember, Math.floor((start + end) / 2), end - 1]) {
      await writeFile(logPath(dir), original.subarray(0, cut))
      const reopened = await LogStorageAdapter.open(dir)
      expect(await batchValues(reopened), `cut at ${cut}`).toEqual([undefined, undefined, undefined])
      expect(text(await reopened.load(["before"]))).toBe("kept")
      expect(reopened.damaged.map(damage => damage.reason)).toEqual(["torn-tail"])
      await reopened.saveBatch(batch("v2"))
      await reopened.close()
      const again = await openAdapter(dir)
      expect(await batchValues(again)).toEqual(BATCH_KEYS.map(key => `${key[0]}:v2`.repeat(20)))
      expect(again.damaged).toEqual([])
      await again.close()
    }
  })

  it("keeps a whole batch followed by a damaged record", async () => {
    const dir = await tempDir("cairn-batch-")
    await writeLog(dir)
    await flipByte(dir, await offsetOf(dir, "after-value"))
    const reopened = await openAdapter(dir)
    expect(await batchValues(reopened)).toEqual(BATCH_KEYS.map(key => `${key[0]}:v1`.repeat(20)))
    expect(await reopened.load(["after"])).toBeUndefined()
    expect(text(await reopened.load(["last"]))).toBe("last-value")
    expect(reopened.damaged.map(damage => [damage.reason, damage.key])).toEqual([["checksum", ["after"]]])
  })

  it("keeps the whole members of a batch damaged since it was written, reporting the damaged one by its key", async () => {
    const dir = await tempDir("cairn-batch-")
    await writeLog(dir)
    await flipByte(dir, await offsetOf(dir, "doc-b:v1"))
    const reopened = await openAdapter(dir)
    // Records follow it, so the batch was once whole on disk: a flipped byte takes only the member it hit.
    expect(await batchValues(reopened)).toEqual(["doc-a:v1".repeat(20), undefined, "doc-c:v1".repeat(20)])
    expect(text(await reopened.load(["after"]))).toBe("after-value")
    expect(reopened.damaged.map(damage => [damage.reason, damage.key])).toEqual([["checksum", BATCH_KEYS[1]]])
  })

  it("drops a damaged batch at the end of the log whole, as a torn one", async () => {
    const dir = await tempDir("cairn-batch-")
    const adapter = await LogStorageAdapter.open(dir)
    await adapter.save(["before"], bytes("kept"))
    await adapter.saveBatch(batch("v1"))
    await adapter.close()
    await flipByte(dir, await offsetOf(dir, "doc-b:v1"))
    const reopened = await openAdapter(dir)
    expect(await batchValues(reopened)).toEqual([undefined, undefined, undefined])
    expect(text(await reopened.load(["before"]))).toBe("kept")
    expect(reopened.damaged.map(damage => damage.reason)).toEqual(["torn-tail"])
  })

  it("never takes a batch's members for records of their own when the batch's header is damaged", async () => {
    const dir = await tempDir("cairn-batch-")
    const { start } = await writeLog(dir)
    await flipByte(dir, start + 8)
    const reopened = await openAdapter(dir)
    expect(await batchValues(reopened)).toEqual([undefined, undefined, undefined])
    expect(text(await reopened.load(["before"]))).toBe("kept")
    expect(text(await reopened.load(["after"]))).toBe("after-value")
    expect(reopened.damaged.map(damage => damage.reason)).toEqual(["header"])
  })

  it("keeps the live saves of committed batches through compaction, and reopens twice", async () => {
    const dir = await tempDir("cairn-batch-")
    const adapter = await LogStorageAdapter.open(dir)
    await adapter.saveBatch(batch("v1"))
    // One member overwritten and one removed: the batch is partly dead, and its live member is copied on its own.
    await adapter.saveBatch([
      { key: BATCH_KEYS[0]!, data: bytes("overwritten") },
      { key: ["extra"], data: bytes("x") },
    ])
    await adapter.remove(BATCH_KEYS[1]!)
    await adapter.compact()
    expect(adapter.stats().compactions).toBe(1)
    await adapter.saveBatch([{ key: ["late"], data: bytes("after compaction") }])
    await adapter.close()
    for (let i = 0; i < 2; i++) {
      const reopened = await LogStorageAdapter.open(dir)
      expect(await batchValues(reopened)).toEqual(["overwritten", undefined, "doc-c:v1".repeat(20)])
      expect(text(await reopened.load(["extra"]))).toBe("x")
      expect(text(await reopened.load(["late"]))).toBe("after compaction")
      expect(reopened.damaged).toEqual([])
      await reopened.compact()
      await reopened.close()
    }
  })

  it("keeps a key's last value when a batch gives it twice", async () => {
    const dir = await tempDir("cairn-batch-")
    const adapter = await LogStorageAdapter.open(dir)
    await adapter.saveBatch([
      { key: ["k"], data: bytes("first") },
      { key: ["k"], data: bytes("second") },
    ])
    expect(text(await adapter.load(["k"]))).toBe("second")
    await adapter.close()
    const reopened = await openAdapter(dir)
    expect(text(await reopened.load(["k"]))).toBe("second")
  })

  it("rejects a batch with a bad key or value naming it, and saves none of it", async () => {
    const adapter = await openAdapter(await tempDir("cairn-batch-"))
    const good = { key: ["good"], data: bytes("g") }
    await expect(adapter.saveBatch([good, { key: ["bad"], data: "text" as unknown as Uint8Array }])).rejects.toThrow(
      /Uint8Array, got string for key \["bad"\]/,
    )
    await expect(adapter.saveBatch([good, { key: [1 as unknown as string], data: bytes("x") }])).rejects.toThrow(/array of strings/)
    expect(await adapter.load(["good"])).toBeUndefined()
    await adapter.saveBatch([])
    expect(adapter.stats().keys).toBe(0)
  })
})
