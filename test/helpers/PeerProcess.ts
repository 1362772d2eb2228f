/**
 * A Cairn peer in a child process (test/fixtures/peer.mjs), driven by
 * JSON-line requests. Every peer in a cross-process test is one of these.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { waitFor } from "../../packages/core/test/wait.js"

const FIXTURE = fileURLToPath(new URL("../fixtures/peer.mjs", import.meta.url))
const LOCAL_APP = fileURLToPath(new URL("../fixtures/localApp.mjs", import.meta.url))

export interface PeerProcessOptions {
  dir: string
  wants?: string
  relay?: boolean
  /** Publish its definitions as schema documents on open, as a peer does by default (test/fixtures/peer.mjs says why not here). */
  publish?: boolean
  /** "open" (default), "trust", or "psk:SECRET" */
  auth?: string
  /**
   * Definitions instead of test/fixtures/types.mjs: "tour", the README tour's (test/fixtures/tourTypes.mjs);
   * "task-v1" … "task-v2-lens", versions of one task type, and "note-v1", "note-v2-text", of a note
   * (test/fixtures/evolvingTypes.mjs).
   */
  types?: "tour" | "task-v1" | "task-v2" | "task-v3" | "task-v2-lens" | "note-v1" | "note-v2-text"
  /** The machine's name. */
  name?: string
  /** Presence republished every N ms, and a machine silent for 3N dropped (default 10 s, 30 s). */
  presenceMs?: number
}

export class PeerProcess {
  #next = 0
  #pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>()
  readonly acked: string[] = []
  readonly stderr: string[] = []
  /** Lines on stdout that were not protocol messages (logged by libraries). */
  readonly stray: string[] = []
  exited: Promise<number | null>
  /** What the process said when it was ready (beside `ready`). */
  hello: Record<string, unknown> = {}

  private constructor(
    readonly child: ChildProcessWithoutNullStreams,
    readonly options: PeerProcessOptions,
  ) {
    this.exited = new Promise(resolve => child.on("exit", code => resolve(code)))
    child.stderr.on("data", chunk => this.stderr.push(String(chunk)))
    child.on("exit", () => {
      for (const { reject } of this.#pending.values()) reject(new Error(`peer process exited\n${this.stderr.join("")}`))
      this.#pending.clear()
    })
  }

  /** Start a peer process on a data directory and wait until it is ready. */
  static async start(options: PeerProcessOptions): Promise<PeerProcess> {
    const args = [FIXTURE, `--dir=${options.dir}`]
    if (options.wants) args.push(`--wants=${options.wants}`)
    if (options.relay) args.push("--relay")
    if (options.auth) args.push(`--auth=${options.auth}`)
    if (options.types) args.push(`--types=${options.types}`)
    if (options.name) args.push(`--name=${options.name}`)
    if (options.presenceMs) args.push(`--presence-ms=${options.presenceMs}`)
    if (options.publish) args.push("--publish")
    return PeerProcess.#run(args, options)
  }

  /** An app process (test/fixtures/localApp.mjs) that opens `dir` with openLocal; its hello says `via` which way. */
  static localApp(dir: string): Promise<PeerProcess> {
    return PeerProcess.#run([LOCAL_APP, `--dir=${dir}`], { dir })
  }

  static async #run(args: string[], options: PeerProcessOptions): Promise<PeerProcess> {
    const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] })
    const peer = new PeerProcess(child, options)
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout })
      lines.on("line", line => {
        let message: { ready?: boolean; acked?: string; id: number; ok?: boolean; result?: unknown; error?: string; [key: string]: unknown }
        try {
          message = JSON.parse(line)
        } catch {
          peer.stray.push(line)
          if (process.env.CAIRN_TEST_VERBOSE) console.log(`[peer stdout] ${line}`)
          return
        }
        if (message.ready) {
          peer.hello = message
          return resolve()
        }
        if (message.acked) return peer.acked.push(message.acked)
        const pending = peer.#pending.get(message.id)
        if (!pending) return
        peer.#pending.delete(message.id)
        if (message.ok) pending.resolve(message.result)
        else pending.reject(new Error(message.error))
      })
      child.on("exit", code => reject(new Error(`peer process exited with ${code} before it was ready\n${peer.stderr.join("")}`)))
    })
    return peer
  }

  /** Send a command and wait for its answer. */
  call<T = any>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.child.stdin.write(JSON.stringify({ id, cmd, args }) + "\n")
    })
  }

  /** Close cleanly (flush, release the directory). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return
    await this.call("close").catch(() => {})
    await this.exited
  }

  /** SIGKILL: no chance to flush anything. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null) return
    this.child.kill("SIGKILL")
    await this.exited
  }
}

/** Temporary directories removed at the end of a test file. */
export class TempDirs {
  #dirs: string[] = []
  async make(prefix = "cairn-test-"): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    this.#dirs.push(dir)
    return dir
  }
  async cleanup(): Promise<void> {
    await Promise.all(this.#dirs.splice(0).map(dir => rm(dir, { recursive: true, force: true })))
  }
}

/** Poll until `check` returns a truthy value (every 50 ms, for 15 s by default: these wait on other processes). */
export function eventually<T>(check: () => Promise<T> | T, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  return waitFor(check, { timeoutMs, intervalMs })
}
