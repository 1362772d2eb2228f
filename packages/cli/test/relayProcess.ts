/**
 * `cairn serve --relay --store URL` in a process of its own (a directory of
 * its own for its lock and socket), for the tests of relays on PostgreSQL.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"
import { BIN } from "./helpers.js"

export interface RelayProcess {
  child: ChildProcess
  stderr: () => string
  /** Resolves with its WebSocket URL once it serves. */
  listening: Promise<string>
}

/** `--open` unless `trust`. */
export function relayProcess(dir: string, store: string, auth: "open" | "trust" = "open"): RelayProcess {
  const args = ["--data", dir, "serve", "--relay", ...(auth === "open" ? ["--open"] : []), "--store", store, "--port", "0"]
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let stderr = ""
  child.stderr!.on("data", text => (stderr += text))
  const listening = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", line => resolve(line.replace(/^listening on /, "")))
    child.once("exit", code => reject(new Error(`serve exited with ${code}: ${stderr}`)))
  })
  listening.catch(() => {})
  return { child, stderr: () => stderr, listening }
}

export async function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once("exit", resolve))
  child.kill(signal)
  await exited
}
