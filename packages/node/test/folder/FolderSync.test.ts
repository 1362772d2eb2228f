import { mkdir, readdir, readFile, stat, truncate, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { decode, encode } from "cbor-x"
import { describe, expect, it } from "vitest"
import { HEADER_BYTES } from "../../src/folder/FolderFile.js"
import { crc32 } from "../../src/storage/crc32.js"
import { Note, openPeer, Task, tempDir, trustEachOther } from "./helpers.js"

describe("FolderSync", () => {
  it("moves documents, changes, deletes and purges between two peers through a folder", async () => {
    const folder = await tempDir()
    const [a, b] = [await openPeer(), await openPeer()]
    await trustEachOther([a, b])
    const task = await a.db.create(Task, { title: "buy milk" })
    const gone = await a.db.create(Task, { title: "to purge" })
    const fa = await a.syncFolder(folder)
    const fb = await b.syncFolder(folder)
    const first = await fa.sync()
    expect(first.sent).toBe(2)
    expect((await fb.sync()).received).toBe(2)
    expect((await b.db.get(Task, task.id)).data.title).toBe("buy milk")

    await b.db.change(Task, task.id, draft => void (draft.done = true))
    await b.db.delete(gone.id)
    await fb.sync()
    expect((await fa.sync()).received).toBe(2)
    expect((await a.db.get(Task, task.id)).data.done).toBe(true)
    expect(a.db.catalog.get(gone.id)?.deletedAt).not.toBeNull()

    await a.db.purge(gone.id)
    await fa.sync()
    expect((await fb.sync()).purged).toBe(1)
    expect(b.db.catalog.get(gone.id)?.purged).toBe(true)
  })

  it("writes only in its own machine folders, one per type, with a JSON form of each document", async () => {
    const folder = await tempDir()
    const a = await openPeer()
    const task = await a.db.create(Task, { title: "readable" })
    await a.db.create(Note, { body: "hello" })
    const sync = await a.syncFolder(folder)
    await sync.sync()
    expect((await readdir(folder)).sort()).toEqual(["note", "task"])
    expect(await readdir(join(folder, "task"))).toEqual([a.machineId])
    const json = JSON.parse(await readFile(join(folder, "task", a.machineId, "json", `${task.id}.json`), "utf8"))
    expect(json).toMatchObject({ id: task.id, type: "task", data: { title: "readable", done: false }, deletedAt: null })

    await a.db.change(Task, task.id, draft => void (draft.title = "changed"))
    await sync.sync()
    expect(JSON.parse(await readFile(join(folder, "task", a.machineId, "json", `${task.id}.json`), "utf8")).data.title).toBe("changed")
    await a.db.delete(task.id)
    await a.db.purge(task.id)
    await sync.sync()
    expect(await readdir(join(folder, "task", a.machineId, "json"))).toEqual([])
  })

  it("a later file carries only the changes since the last one", async () => {
    const folder = await tempDir()
    const a = await openPeer()
    const tasks = await Promise.all(Array.from({ length: 20 }, (_, i) => a.db.create(Task, { title: `t${i}` })))
    const sync = await a.syncFolder(folder)
    const first = await sync.sync()
    await a.db.change(Task, tasks[3]!.id, draft => void (draft.done = true))
    const second = await sync.sync()
    expect(second.sent).toBe(1)
    expect((await stat(second.written[0]!)).size).toBeLessThan((await stat(first.written[0]!)).size / 5)
    expect((await sync.sync()).written).toEqual([])
  })

  it("reads only the types it wants", async () => {
    const folder = await tempDir()
    const a = await openPeer()
    const b = await openPeer({ wants: ["task"] })
    await trustEachOther([a, b])
    await a.db.create(Task, { title: "wanted" })
    await a.db.create(Note, { body: "not wanted" })
    await (await a.syncFolder(folder)).sync()
    const result = await (await b.syncFolder(folder)).sync()
    expect(result.applied.length).toBe(1)
    expect(result.applied.every(path => path.startsWith(join(folder, "task")))).toBe(true)
    expect(b.db.catalog.idsOfType("note").size).toBe(0)
    expect(b.db.catalog.idsOfType("task").size).toBe(1)
  })

  it("skips a half-copied file until it is whole, then applies it", async () => {
    const folder = await tempDir()
    const [a, b] = [await openPeer(), await openPeer()]
    await trustEachOther([a, b])
    await a.db.create(Task, { title: "arrives late" })
    const written = (await (await a.syncFolder(folder)).sync()).written[0]!
    const whole = await readFile(written)
    await truncate(written, Math.floor(whole.byteLength / 2))
    const fb = await b.syncFolder(folder)
    const skipped = await fb.sync()
    expect(skipped.skipped).toMatchObject([{ kind: "incomplete", path: written }])
    expect(b.db.catalog.idsOfType("task").size).toBe(0)
    await writeFile(written, whole)
    expect((await fb.sync()).received).toBe(1)
  })

  it("applies files only from trusted machines, and only of the types they may write", async () => {
    const folder = await tempDir()
    const [a, b, stranger] = [await openPeer(), await openPeer(), await openPeer()]
    await b.trust.trust(a.db.machine.publicKey, { read: "*", write: ["note"] })
    await a.db.create(Task, { title: "no grant" })
    await a.db.create(Note, { body: "granted" })
    await stranger.db.create(Task, { title: "untrusted" })
    await (await a.syncFolder(folder)).sync()
    await (await stranger.syncFolder(folder)).sync()
    const result = await (await b.syncFolder(folder)).sync()
    expect(b.db.catalog.idsOfType("task").size).toBe(0)
    expect(b.db.catalog.idsOfType("note").size).toBe(1)
    const reasons = result.skipped.map(file => file.reason).join("\n")
    expect(reasons).toContain(`machine ${a.machineId} may not write task here`)
    expect(reasons).toContain(`machine ${stranger.machineId} is not trusted here`)
  })

  it("refuses a file whose payload was changed after signing, or that was moved into another machine's folder", async () => {
    const folder = await tempDir()
    const [a, b, c] = [await openPeer(), await openPeer(), await openPeer()]
    await trustEachOther([a, b, c])
    const task = await a.db.create(Task, { title: "signed" })
    const written = (await (await a.syncFolder(folder)).sync()).written[0]!
    const original = await readFile(written)
    // Moved: a's whole, signed file put where c's first file would be.
    const moved = join(folder, "task", c.machineId, "000000000001.changes.cairn")
    await mkdir(dirname(moved), { recursive: true })
    await writeFile(moved, original)
    // Changed: the payload re-encoded with another title's bytes, the header made consistent, the signature kept.
    const payload = decode(original.subarray(HEADER_BYTES))
    const other = await c.db.create(Task, { title: "forged" })
    payload.docs = [{ id: task.id, heads: [], bytes: await c.db.replica.bytesFor(other.id, []) }]
    const body = encode(payload) as Uint8Array
    const forged = new Uint8Array(HEADER_BYTES + body.byteLength)
    forged.set(original.subarray(0, HEADER_BYTES))
    forged.set(body, HEADER_BYTES)
    const view = new DataView(forged.buffer)
    view.setUint32(8, body.byteLength)
    view.setUint32(12, crc32(forged.subarray(HEADER_BYTES - 64)))
    await writeFile(written, forged)

    const result = await (await b.syncFolder(folder)).sync()
    expect(b.db.catalog.has(task.id)).toBe(false)
    expect(result.skipped.find(file => file.path === moved)).toMatchObject({ kind: "refused" })
    expect(result.skipped.find(file => file.path === moved)?.reason).toContain(`file 1 of machine ${a.machineId}`)
    expect(result.skipped.find(file => file.path === written)).toMatchObject({ kind: "refused" })
    expect(result.skipped.find(file => file.path === written)?.reason).toContain("signature")
  })

  it("a file that builds on another machine's file not copied in yet waits for it, then applies", async () => {
    const [p, q, r] = [await openPeer(), await openPeer(), await openPeer()]
    await trustEachOther([p, q, r])
    const [folderP, folderQ, folderR] = [await tempDir(), await tempDir(), await tempDir()]
    const copy = async (from: string, to: string, machineId: string) => {
      const dir = join("task", machineId)
      await mkdir(join(to, dir), { recursive: true })
      for (const name of await readdir(join(from, dir)))
        if (name.endsWith(".cairn")) await writeFile(join(to, dir, name), await readFile(join(from, dir, name)))
    }
    const task = await p.db.create(Task, { title: "from p" })
    await (await p.syncFolder(folderP)).sync()
    await copy(folderP, folderQ, p.machineId)
    const atQ = await q.syncFolder(folderQ)
    await atQ.sync()
    await q.db.change(Task, task.id, draft => void (draft.done = true))
    await atQ.sync()
    // R gets Q's file, which carries only Q's change, before P's, which has the document.
    await copy(folderQ, folderR, q.machineId)
    const atR = await r.syncFolder(folderR)
    const early = await atR.sync()
    expect(early.skipped).toMatchObject([{ kind: "waiting" }])
    await copy(folderP, folderR, p.machineId)
    const late = await atR.sync()
    expect(late.skipped).toEqual([])
    expect(late.applied.length).toBe(2)
    expect((await r.db.get(Task, task.id)).data).toEqual({ title: "from p", done: true })
  })

  it("compacts its files into a snapshot that a new reader applies alone", async () => {
    const folder = await tempDir()
    const [a, b] = [await openPeer(), await openPeer()]
    await trustEachOther([a, b])
    const sync = await a.syncFolder(folder, { maxFiles: 3 })
    const task = await a.db.create(Task, { title: "v0" })
    for (let i = 1; i <= 5; i++) {
      await a.db.change(Task, task.id, draft => void (draft.title = `v${i}`))
      await sync.sync()
    }
    const names = (await readdir(join(folder, "task", a.machineId))).filter(name => name.endsWith(".cairn"))
    expect(names.length).toBeLessThan(3)
    expect(names.some(name => name.includes("snapshot"))).toBe(true)
    const result = await (await b.syncFolder(folder)).sync()
    expect((await b.db.get(Task, task.id)).data.title).toBe("v5")
    expect(result.skipped).toEqual([])
  })

  it("while started, reports a file that stays incomplete once, and never fails the sync for it", async () => {
    const folder = await tempDir()
    const warnings: string[] = []
    const [a, b] = [await openPeer(), await openPeer({ log: message => warnings.push(message) })]
    await trustEachOther([a, b])
    await a.db.create(Task, { title: "cut short" })
    const written = (await (await a.syncFolder(folder)).sync()).written[0]!
    await truncate(written, 100)
    const sync = await b.syncFolder(folder, { rescanMs: 50, reportAfterMs: 200 })
    sync.start()
    await expect.poll(() => warnings.filter(w => w.includes(written)).length, { timeout: 5000 }).toBe(1)
    expect(warnings[0]).toContain("bytes")
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(warnings.filter(w => w.includes(written)).length).toBe(1)
    expect(sync.status()).toMatchObject({ skipped: 1 })
    expect(sync.status().error).toBeUndefined()
    await sync.stop()
  })

  it("keeps syncing while started: a change on one side reaches the other", async () => {
    const folder = await tempDir()
    const [a, b] = [await openPeer(), await openPeer()]
    await trustEachOther([a, b])
    const fa = await a.syncFolder(folder, { debounceMs: 50, rescanMs: 500 })
    const fb = await b.syncFolder(folder, { debounceMs: 50, rescanMs: 500 })
    fa.start()
    fb.start()
    const task = await a.db.create(Task, { title: "live" })
    await expect.poll(() => b.db.catalog.has(task.id), { timeout: 10_000 }).toBe(true)
    await b.db.change(Task, task.id, draft => void (draft.done = true))
    await expect.poll(async () => (await a.db.get(Task, task.id)).data.done, { timeout: 10_000 }).toBe(true)
    expect(fa.status()).toMatchObject({ transport: "folder", running: true, dir: folder })
    await fa.stop()
    await fb.stop()
  })
})
