// A peer process (test/fixtures/reliability-peer.mjs) driven from a test or
// the soak: JSON-line requests, acknowledged writes collected as they come.
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

const FIXTURE = fileURLToPath(new URL("../../fixtures/reliability-peer.mjs", import.meta.url))

export class ReliabilityPeer {
  #next = 0
  #pending = new Map()

  constructor(child, options) {
    this.child = child
    this.options = options
    /** Writes the process reported acknowledged (in order). */
    this.acked = []
    this.writeErrors = []
    this.stderr = []
    this.ready = undefined
    this.fatal = undefined
    // "close", not "exit": every line the process wrote before it died has been read by then.
    this.exited = new Promise(resolve => child.on("close", (code, signal) => resolve({ code, signal })))
    child.stderr.on("data", chunk => {
      this.stderr.push(String(chunk))
      if (this.stderr.length > 200) this.stderr.splice(0, 100)
    })
    child.on("exit", () => {
      for (const { reject } of this.#pending.values()) reject(new Error(`peer process exited\n${this.stderr.join("").slice(-4000)}`))
      this.#pending.clear()
    })
    this.started = new Promise((resolve, reject) => {
      createInterface({ input: child.stdout }).on("line", line => {
        let message
        try {
          message = JSON.parse(line)
        } catch {
          return
        }
        if (message.ready) {
          this.ready = message
          return resolve(this)
        }
        if (message.fatal) {
          this.fatal = message.fatal
          return reject(new Error(`peer could not open: ${message.fatal}`))
        }
        if (message.acked) return this.acked.push(message.acked)
        if (message.writeError) return this.writeErrors.push(message.writeError)
        const pending = this.#pending.get(message.id)
        if (!pending) return
        this.#pending.delete(message.id)
        if (message.ok) pending.resolve(message.result)
        else pending.reject(new Error(message.error))
      })
      child.on("exit", (code, signal) =>
        reject(new Error(`peer process exited (${signal ?? code}) before it was ready\n${this.stderr.join("").slice(-4000)}`)),
      )
    })
    this.started.catch(() => {})
  }

  /**
   * Spawn a peer on a data directory; `await peer.started` for it to be open.
   * `fixture` and `args` run another fixture that speaks the same protocol (the load clients).
   */
  static spawn(options) {
    const args = options.fixture ? [options.fixture, ...(options.args ?? [])] : [FIXTURE, `--dir=${options.dir}`]
    if (options.wants) args.push(`--wants=${options.wants}`)
    if (options.relay) args.push("--relay")
    if (options.strict) args.push("--strict")
    if (options.auth) args.push(`--auth=${options.auth}`)
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
    })
    return new ReliabilityPeer(child, options)
  }

  static async start(options) {
    return ReliabilityPeer.spawn(options).started
  }

  get pid() {
    return this.child.pid
  }

  call(cmd, args = {}) {
    const id = this.#next++
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return reject(new Error("peer process is not running"))
      this.#pending.set(id, { resolve, reject: error => reject(new Error(`${cmd}: ${error.message}`)) })
      this.child.stdin.write(JSON.stringify({ id, cmd, args }) + "\n")
    })
  }

  /** Close cleanly; if closing fails or hangs (10 s), kill. Resolves with the close error, if any. */
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return undefined
    const timeout = new Promise(resolve => setTimeout(() => resolve(new Error("close did not finish within 10 s")), 10_000).unref())
    const error = await Promise.race([
      this.call("close").then(
        () => undefined,
        e => e,
      ),
      timeout,
    ])
    if (error) await this.kill()
    await this.exited
    return error
  }

  /** SIGKILL: no chance to flush anything. */
  async kill() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill("SIGKILL")
    await this.exited
  }
}
