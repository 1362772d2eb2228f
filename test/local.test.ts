/**
 * Apps share the machine's peer: an app process opens a data directory with
 * openLocal while `cairn serve` holds it (and reaches it through its
 * socket), and while nothing does (and opens it itself). Its live query
 * sees a change made with the `cairn` command and one that arrives from
 * another peer, in another process, syncing with the server.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { PeerProcess, TempDirs, eventually } from "./helpers/PeerProcess.js"

const BIN = fileURLToPath(new URL("../packages/cli/bin/cairn.js", import.meta.url))
const dirs = new TempDirs()
const running: { stop: () => Promise<unknown> }[] = []
afterEach(async () => {
  for (const process of running.splice(0).reverse()) await process.stop()
})
afterAll(() => dirs.cleanup())

function cairn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve =>
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  )
}

/** `cairn serve --open` on a directory; resolves with its WebSocket URL once it listens and serves commands. */
async function serve(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, "--data", dir, "serve", "--open", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] })
  const exited = new Promise(resolve => child.once("exit", resolve))
  running.push({
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill("SIGTERM")
      await exited
    },
  })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve)
    child.once("exit", code => reject(new Error(`serve exited with ${code}`)))
  })
  return { url: line.replace(/^listening on /, ""), child }
}

async function app(dir: string): Promise<PeerProcess> {
  const started = await PeerProcess.localApp(dir)
  running.push(started)
  return started
}

describe("apps on the same machine (openLocal)", () => {
  it("an app reaches a running cairn serve; its live query sees the CLI's change and another peer's, and goes on after a restart", {
    timeout: 60_000,
  }, async () => {
    const dir = await dirs.make()
    const server = await serve(dir)
    const shared = await app(dir)
    expect(shared.hello.via).toBe("socket")
    await shared.call("liveQuery")
    const mine = await shared.call<string>("create", { title: "from the app" })
    await shared.call("vote", { id: mine, by: 2 })

    expect((await cairn(["--data", dir, "create", "task", JSON.stringify({ title: "from the cli" })])).code).toBe(0)
    await eventually(async () => (await shared.call<string[]>("results")).includes("from the cli"))

    const other = await PeerProcess.start({ dir: await dirs.make() })
    running.push(other)
    await other.call("connect", { url: server.url })
    await other.call("create", { type: "task", data: { title: "from another peer" } })
    await eventually(async () => (await shared.call<string[]>("results")).includes("from another peer"))
    expect(await shared.call("results")).toEqual(["from another peer", "from the app", "from the cli"])

    // The app's typed change went to the server's disk and on to the other peer, as this machine's change.
    await eventually(async () => (await other.call("get", { id: mine }).catch(() => null))?.data.votes === 2)
    const machine = JSON.parse((await cairn(["--data", dir, "whoami", "--json"])).stdout).machineId
    expect((await shared.call<{ machineId: string }[]>("history", { id: mine })).map(change => change.machineId)).toEqual([
      machine,
      machine,
    ])
    // The CLI, run while the app is connected, reads the app's change through the same server.
    expect(JSON.parse((await cairn(["--data", dir, "get", mine, "--json"])).stdout).data.votes).toBe(2)

    // The server dies: the app's calls fail at once; once a server runs again, the app and its live query go on.
    server.child.kill("SIGKILL")
    await expect(shared.call("list")).rejects.toThrow(/LocalPeerError: lost the connection to the peer holding/)
    await serve(dir)
    expect((await cairn(["--data", dir, "create", "task", JSON.stringify({ title: "after the restart" })])).code).toBe(0)
    await eventually(async () => (await shared.call<string[]>("results")).includes("after the restart"))
    await eventually(() => shared.call("vote", { id: mine, by: 1 }))
    expect(JSON.parse((await cairn(["--data", dir, "get", mine, "--json"])).stdout).data.votes).toBe(3)
  })

  it("with no server, an app opens the directory itself; another app shares it, and a cairn command waits its turn", {
    timeout: 60_000,
  }, async () => {
    const dir = await dirs.make()
    expect((await cairn(["--data", dir, "init"])).code).toBe(0)
    const first = await app(dir)
    expect(first.hello.via).toBe("directory")
    const second = await app(dir)
    expect(second.hello.via).toBe("socket")
    await second.call("liveQuery")
    const id = await first.call<string>("create", { title: "made by the first app" })
    await eventually(async () => (await second.call<string[]>("results")).includes("made by the first app"))
    await second.call("rename", { id, title: "renamed by the second app" })
    expect(await first.call("list")).toEqual(["renamed by the second app"])

    const listing = cairn(["--data", dir, "ls", "--json"])
    const outcome = await Promise.race([listing, new Promise(resolve => setTimeout(() => resolve("waiting"), 1500))])
    expect(outcome).toBe("waiting")
    await second.stop()
    await first.stop()
    const listed = await listing
    expect(listed.stderr).toBe("")
    expect(JSON.parse(listed.stdout).map((doc: { data: { title: string } }) => doc.data.title)).toEqual(["renamed by the second app"])
  })
})
