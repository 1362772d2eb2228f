// A benchmark peer (test/bench/peer.mjs) in a child process, driven by JSON
// lines: the runner's handle on it.
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { join } from "node:path"

const PEER = fileURLToPath(new URL("../peer.mjs", import.meta.url))
const live = new Set()

export class Worker {
  #next = 0
  #pending = new Map()
  stderr = []

  constructor(kind, label, child) {
    this.kind = kind
    this.label = label
    this.child = child
    this.exited = new Promise(resolve => child.on("exit", code => resolve(code)))
    child.stderr.on("data", chunk => this.stderr.push(String(chunk)))
    child.on("exit", code => {
      live.delete(this)
      for (const { reject } of this.#pending.values())
        reject(new Error(`${label} (${kind}) exited with ${code}\n${this.stderr.join("").slice(-4000)}`))
      this.#pending.clear()
    })
  }

  /**
   * Start a peer process. With `profileDir`, it writes a V8 CPU profile there
   * when it exits (node --cpu-prof).
   */
  static async start(kind, label, { profileDir } = {}) {
    const args = ["--expose-gc", ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(" ") : [])]
    if (profileDir)
      args.push("--cpu-prof", `--cpu-prof-dir=${join(profileDir)}`, `--cpu-prof-name=${label}-${kind}-${Date.now()}.cpuprofile`)
    const child = spawn(process.execPath, [...args, PEER, `--kind=${kind}`], { stdio: ["pipe", "pipe", "pipe"] })
    const worker = new Worker(kind, label, child)
    live.add(worker)
    await new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout })
      lines.on("line", line => {
        let message
        try {
          message = JSON.parse(line)
        } catch {
          return
        }
        if (message.ready) return resolve()
        const pending = worker.#pending.get(message.id)
        if (!pending) return
        worker.#pending.delete(message.id)
        if (message.ok) pending.resolve(message.result)
        else pending.reject(new Error(`${label} (${kind}) ${message.error}`))
      })
      child.on("exit", code => reject(new Error(`${label} (${kind}) exited with ${code} before it was ready\n${worker.stderr.join("")}`)))
    })
    return worker
  }

  call(cmd, args = {}) {
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.child.stdin.write(JSON.stringify({ id, cmd, args }) + "\n")
    })
  }

  /** Close cleanly (flush, release the directory, write the profile); killed if it takes over a minute. */
  async stop() {
    if (this.child.exitCode !== null) return
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 60_000)
    await this.call("close").catch(() => {})
    await this.exited
    clearTimeout(timer)
  }

  /** Kill every peer process this runner started that is still running. */
  static killAll() {
    for (const worker of live) worker.child.kill("SIGKILL")
  }
}
