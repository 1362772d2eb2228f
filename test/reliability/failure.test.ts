/**
 * Graceful failure: a full disk, a port in use, a data directory this
 * process may not write. Each must give a clear error, keep the peer (or
 * the app) running, and lose nothing that was acknowledged.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { execFileSync } from "node:child_process"
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { NodePeer } from "@cairn/node"
import { WriteModel } from "./lib/crash.mjs"
import { ReliabilityPeer } from "./lib/ReliabilityPeer.mjs"
import { Task, types } from "./lib/types.mjs"

const cleanup: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {})
})

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A 3 MB tmpfs to fill, where this process may mount one (root on Linux); undefined elsewhere. */
async function smallDisk(): Promise<string | undefined> {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return undefined
  const mountpoint = await tempDir("cairn-full-")
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountpoint], { stdio: "ignore" })
  } catch {
    return undefined
  }
  cleanup.push(async () => execFileSync("umount", [mountpoint], { stdio: "ignore" }))
  return mountpoint
}

/** Mount `dir` over itself read-only (Linux, root); false where this process may not mount. */
function bindReadOnly(dir: string): boolean {
  if (process.platform !== "linux") return false
  try {
    execFileSync("mount", ["--bind", dir, dir], { stdio: "ignore" })
  } catch {
    return false
  }
  try {
    execFileSync("mount", ["-o", "remount,bind,ro", dir], { stdio: "ignore" })
    return true
  } catch {
    execFileSync("umount", [dir], { stdio: "ignore" })
    return false
  }
}

const disk = await smallDisk()
const isRoot = process.getuid?.() === 0

describe("graceful failure", () => {
  it.skipIf(!disk)(
    "a full disk: writes fail with ENOSPC, the peer keeps running, and every acknowledged write survives",
    { timeout: 120_000 },
    async () => {
      const dir = join(disk!, "peer")
      // --strict: no unhandled-rejection handler in the peer process, so a failure nobody handles would end it.
      const peer = await ReliabilityPeer.start({ dir, strict: true })
      // Registered before the unmount (cleanups run in reverse): a live process would keep the tmpfs busy.
      cleanup.push(() => peer.kill())
      await peer.call("write", { seed: 5, concurrency: 3 })
      const deadline = Date.now() + 60_000
      while (peer.writeErrors.length < 3 && Date.now() < deadline) await sleep(100)
      expect(peer.writeErrors.length).toBeGreaterThanOrEqual(3)
      for (const error of peer.writeErrors) expect(error).toMatch(/ENOSPC|no space/i)
      await sleep(500)
      // Still alive, still reading.
      expect(peer.child.exitCode).toBeNull()
      const acked = peer.acked.slice()
      const model = new WriteModel()
      model.apply(acked)
      expect(await peer.call("verify", { expected: model.expected() })).toEqual([])
      // Space comes back: a restart finds everything acknowledged, and writes again. (Without the restart, a
      // failed catalog write keeps every later write failing: see the open case in regressions.test.ts.)
      execFileSync("mount", ["-o", "remount,size=64m", disk!])
      await peer.stop()
      const reopened = await ReliabilityPeer.start({ dir })
      cleanup.push(() => reopened.kill())
      expect(await reopened.call("verify", { expected: model.expected() })).toEqual([])
      const after = await reopened.call("create", { type: "task", data: { title: "after the disk was full" } })
      model.apply([{ kind: "create", type: "task", id: after, title: "after the disk was full" }])
      expect(await reopened.call("verify", { expected: model.expected() })).toEqual([])
      expect(await reopened.call("unexpected")).toEqual([])
      await reopened.stop()
    },
  )

  it("a port in use: listen fails naming the port, and the peer keeps working", async () => {
    const first = await NodePeer.open({ dir: await tempDir("cairn-port-"), types })
    cleanup.push(() => first.close())
    const { port } = await first.listen({ port: 0 })
    const second = await NodePeer.open({ dir: await tempDir("cairn-port-"), types })
    cleanup.push(() => second.close())
    const doc = await second.db.create(Task, { title: "written before" })
    const error = await second.listen({ port }).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(error).toBeInstanceOf(Error)
    expect(error!.message).toMatch(new RegExp(`in use.*${port}|${port}.*in use`, "i"))
    // Nothing is lost and the peer still works: it writes, and listens elsewhere.
    expect((await second.db.get(Task, doc.id)).data.title).toBe("written before")
    await second.db.change(Task, doc.id, d => void (d.done = true))
    const { url } = await second.listen({ port: 0 })
    first.connect(url)
    await expect.poll(() => first.db.catalog.has(doc.id), { timeout: 10_000 }).toBe(true)
  })

  it("a data directory this process may not write: a clear DataDirectoryError, and the data in it untouched", {
    timeout: 60_000,
  }, async () => {
    const dir = join(await tempDir("cairn-perm-"), "data")
    const owner = await NodePeer.open({ dir, types })
    const doc = await owner.db.create(Task, { title: "keep me" })
    await owner.close()
    // Root may write anywhere a mode allows nothing: a read-only bind mount stops it, wherever the repository is
    // (running the peer as nobody instead needs the repository readable by nobody, which a 0700 home is not).
    const readOnly = isRoot && bindReadOnly(dir)
    if (readOnly) cleanup.push(async () => execFileSync("umount", [dir], { stdio: "ignore" }))
    if (!isRoot) await chmod(dir, 0o500)
    const peer = ReliabilityPeer.spawn({ dir, ...(isRoot && !readOnly ? { uid: 65534, gid: 65534 } : {}) })
    const error = await peer.started.then(
      () => undefined,
      (e: Error) => e,
    )
    const exit = await peer.exited
    expect(error?.message).toMatch(/DataDirectoryError: cannot (lock|create|read)[^:]*: (EACCES|EROFS)/)
    expect(exit.code).toBe(1)
    expect(peer.stderr.join("")).not.toMatch(/\n\s+at /)
    if (readOnly) execFileSync("umount", [dir], { stdio: "ignore" })
    if (!isRoot) await chmod(dir, 0o700)
    else expect(error?.message).toMatch(readOnly ? /EROFS/ : /EACCES/)
    const again = await NodePeer.open({ dir, types })
    expect((await again.db.get(Task, doc.id)).data.title).toBe("keep me")
    await again.close()
  })

  it("a data directory that does not exist under a file: a clear DataDirectoryError", async () => {
    const parent = await tempDir("cairn-notdir-")
    await mkdir(join(parent, "x"))
    const file = join(parent, "x", "file")
    execFileSync("touch", [file])
    await expect(NodePeer.open({ dir: join(file, "data") })).rejects.toThrow(/cannot create data directory .*ENOTDIR/)
  })
})
