import { execFile, spawn, type ChildProcess } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

export const BIN = fileURLToPath(new URL("../bin/cairn.js", import.meta.url))

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Run the built `cairn` binary. */
export function cairn(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise(resolve => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...options.env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr })
      },
    )
    if (options.input !== undefined) child.stdin!.end(options.input)
    else child.stdin!.end()
  })
}

/** `cairn --json ...` that must succeed; returns the parsed JSON. */
export async function json<T = any>(args: string[], input?: string): Promise<T> {
  const run = await cairn([...args, "--json"], input === undefined ? {} : { input })
  if (run.code !== 0) throw new Error(`cairn ${args.join(" ")} exited ${run.code}: ${run.stderr}`)
  return JSON.parse(run.stdout)
}

/** Start `cairn serve` (`--open` unless other serve options are given); resolves with its URL once it printed its first line. */
export async function startServe(
  args: string[],
  serveOptions = ["--open"],
): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, ...args, "serve", ...serveOptions, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve)
    child.once("exit", code => reject(new Error(`serve exited with ${code}`)))
  })
  const url = line.replace(/^listening on /, "")
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null) return
      child.kill("SIGTERM")
      await new Promise(resolve => child.once("exit", resolve))
    },
  }
}

export class Dirs {
  #dirs: string[] = []
  async make(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "cairn-cli-"))
    this.#dirs.push(dir)
    return dir
  }
  async cleanup(): Promise<void> {
    await Promise.all(this.#dirs.map(dir => rm(dir, { recursive: true, force: true })))
  }
}

/** Poll `check` every 200 ms until it returns a truthy value (15 s by default: it waits on other processes). */
export async function until<T>(check: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}
