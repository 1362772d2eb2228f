#!/usr/bin/env node
// One benchmark peer in its own OS process: `--kind=cairn`, `plain` or `pouch`.
// Driven by JSON lines on stdin ({"id", "cmd", "args"}), answering JSON lines
// on stdout ({"id", "ok", "result" | "error"}), like test/fixtures/peer.mjs.
// Every command is a method of the driver, plus the few below.
import { timed } from "./lib/measure.mjs"
import { serveCommands } from "../fixtures/commandLoop.mjs"

const kind = process.argv.find(arg => arg.startsWith("--kind="))?.slice(7)
// Only the kind's own driver is loaded, so a PouchDB process's memory holds no Automerge.
const DRIVERS = {
  cairn: async () => new (await import("./drivers/cairn.mjs")).CairnDriver(),
  plain: async () => new (await import("./drivers/plain.mjs")).PlainDriver(),
  pouch: async () => new (await import("./drivers/pouch.mjs")).PouchDriver(),
}
if (!DRIVERS[kind]) throw new Error(`--kind=${Object.keys(DRIVERS).join("|")}`)
const driver = await DRIVERS[kind]()

// A library's promise rejected with nobody listening (automerge-repo's
// DocHandle.whenReady times out after 60 s when a peer is too busy to load a
// document in time, inside its synchronizer). Node would end the process;
// the benchmark records it and carries on, and reports how many there were.
const problems = []
process.on("unhandledRejection", error => {
  problems.push(String(error?.message ?? error).slice(0, 200))
  process.stderr.write(`unhandled rejection: ${error?.stack ?? error}\n`)
})

const commands = {
  /** Resident set size after a full garbage collection (run with --expose-gc). */
  rss: () => {
    globalThis.gc?.()
    globalThis.gc?.()
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
    return { rss, heapUsed, external, arrayBuffers }
  },
  problems: () => ({ count: problems.length, first: problems.slice(0, 3) }),
  cpu: () => {
    const { user, system } = process.cpuUsage()
    return { ms: (user + system) / 1000 }
  },
  /** The floor for loading: raw Automerge.load over the bytes this peer's storage holds for its documents. */
  floor: async () => {
    const A = await import("@automerge/automerge")
    const stored = await driver.storedBytes()
    const bytes = stored.reduce((n, b) => n + b.byteLength, 0)
    return timed(() => {
      for (const b of stored) A.load(b)
      return { count: stored.length, bytes }
    })
  },
  close: async () => {
    await driver.close()
    setTimeout(() => process.exit(0), 10)
    return true
  },
}

serveCommands({
  commands,
  find: cmd => commands[cmd] ?? (typeof driver[cmd] === "function" ? driver[cmd].bind(driver) : undefined),
  hello: { pid: process.pid },
  onClose: () => driver.close(),
  stack: true,
})
