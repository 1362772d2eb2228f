/**
 * The Node stores as subjects of the storage conformance suite: the log
 * (LogStorageAdapter), a peer's two logs behind one adapter (openStorage),
 * and that storage as the Repo sees it (storageForRepo). Damage and crashes
 * are done to the files as a power cut or a bad disk would: a cut or a
 * flipped byte in the last record, and SIGKILL of a child process that is
 * writing.
 */
import { spawn } from "node:child_process"
import { mkdtemp, open, rm, stat, truncate, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import type { CrashPlan, StorageUnderTest, StoreUnderTest } from "../../../core/test/conformance/storage.js"
import { builtStorageModule } from "../helpers/builtStorage.js"
import { LogStorageAdapter } from "../../src/storage/LogStorageAdapter.js"
import { openStorage, type PeerStorage } from "../../src/storage/openStorage.js"
import { storageForRepo } from "../../src/storage/storageForRepo.js"

const WRITER = join(dirname(fileURLToPath(import.meta.url)), "crash-writer.mjs")

type Kind = "LogStorageAdapter" | "openStorage"
type Closable = StorageAdapterInterface & { close(): Promise<void> }

const openers: Record<Kind, (dir: string) => Promise<Closable & { readonly damaged: readonly unknown[] }>> = {
  LogStorageAdapter: dir => LogStorageAdapter.open(dir),
  openStorage: dir => openStorage(dir),
}

/** A log store in a fresh directory, with every capability of the suite. */
export function logStore(kind: Kind): StorageUnderTest {
  return {
    async open(): Promise<StoreUnderTest> {
      const dir = await mkdtemp(join(tmpdir(), "cairn-conformance-"))
      let current = await openers[kind](dir)
      const reopened = async () => {
        await current.close()
        current = await openers[kind](dir)
        return current
      }
      return {
        adapter: current,
        reopen: reopened,
        async crash(plan) {
          await current.close()
          const acknowledged = await killWhileWriting(kind, dir, plan)
          current = await openers[kind](dir)
          return { adapter: current, acknowledged }
        },
        async damage(how, victim) {
          await current.close()
          // The victim was saved last, so its record ends the documents' log (openStorage keeps documents in <dir>/).
          await damageTail(join(dir, "storage.log"), how, victim)
          current = await openers[kind](dir)
          return { adapter: current, reported: current.damaged }
        },
        async dispose() {
          await current.close()
          await rm(dir, { recursive: true, force: true })
        },
      }
    },
  }
}

/** openStorage's storage wrapped by storageForRepo, reopened across closes; it writes nothing of its own. */
export function repoStore(): StorageUnderTest {
  const forwarded = "storageForRepo only forwards to openStorage's storage, which runs this part on its own"
  return {
    cannot: {
      crash: forwarded,
      damage: forwarded,
      batch: "the Repo saves one key at a time; the database writes its batches to openStorage's storage, which runs this part",
    },
    async open() {
      const dir = await mkdtemp(join(tmpdir(), "cairn-conformance-"))
      let peerStorage: PeerStorage = await openStorage(dir)
      return {
        adapter: storageForRepo(peerStorage, () => {}),
        async reopen() {
          await peerStorage.close()
          peerStorage = await openStorage(dir)
          return storageForRepo(peerStorage, () => {})
        },
        async dispose() {
          await peerStorage.close()
          await rm(dir, { recursive: true, force: true })
        },
      }
    },
  }
}

async function damageTail(path: string, how: "truncate" | "corrupt", victim: Chunk): Promise<void> {
  const size = (await stat(path)).size
  const valueBytes = victim.data!.byteLength
  if (how === "truncate") {
    await truncate(path, size - Math.floor(valueBytes / 2))
    return
  }
  const handle = await open(path, "r+")
  try {
    const at = size - Math.floor(valueBytes / 2)
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, at)
    byte[0] = byte[0]! ^ 0xff
    await handle.write(byte, 0, 1, at)
  } finally {
    await handle.close()
  }
}

/** Run the plan in a child process, SIGKILL it soon after its first in-flight save resolved; the keys it saw acknowledged. */
async function killWhileWriting(kind: Kind, dir: string, plan: CrashPlan): Promise<StorageKey[]> {
  const planDir = await mkdtemp(join(tmpdir(), "cairn-crash-plan-"))
  try {
    const entries = (chunks: readonly Chunk[]) => chunks.map(chunk => ({ key: chunk.key, length: chunk.data!.byteLength }))
    await writeFile(
      join(planDir, "plan.json"),
      JSON.stringify({ acknowledged: entries(plan.acknowledged), inFlight: entries(plan.inFlight) }),
    )
    await writeFile(join(planDir, "plan.bin"), Buffer.concat([...plan.acknowledged, ...plan.inFlight].map(chunk => chunk.data!)))
    const modulePath = await builtStorageModule(kind)
    const child = spawn(process.execPath, [WRITER, modulePath, kind, dir, planDir], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let killing = false
    child.stdout.setEncoding("utf8").on("data", (data: string) => {
      stdout += data
      const afterReady = stdout.split("\nready\n")[1]
      if (!killing && afterReady !== undefined && afterReady.includes("\n")) {
        killing = true
        setTimeout(() => child.kill("SIGKILL"), Math.random() * 10)
      }
    })
    child.stderr.setEncoding("utf8").on("data", (data: string) => (stderr += data))
    const signal = await new Promise<NodeJS.Signals | null>(resolve => child.on("close", (_code, signal) => resolve(signal)))
    if (signal !== "SIGKILL") throw new Error(`the writer ended on its own before it was killed: ${stderr || stdout.slice(-200)}`)
    // The last line may be cut short by the kill; only whole lines count.
    return stdout
      .split("\n")
      .slice(0, -1)
      .filter(line => line.startsWith("A "))
      .map(line => JSON.parse(line.slice(2)) as StorageKey)
  } finally {
    await rm(planDir, { recursive: true, force: true })
  }
}
