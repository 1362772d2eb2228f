// The writer the storage conformance suite kills with SIGKILL (see
// logStores.ts). It opens a store with the built module, saves the plan's
// acknowledged chunks one by one, prints "ready", then saves the in-flight
// chunks four at a time, printing "A <key as JSON>" as each save resolves,
// until it is killed.
//
//   node crash-writer.mjs <module> <LogStorageAdapter|openStorage> <store dir> <plan dir>
//
// Lines go out with writeSync: an asynchronous stdout write still queued when
// the process is killed would be lost, and a lost line would make a durable,
// acknowledged write look like one that never finished.
import { readFileSync, writeSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"

const [modulePath, kind, directory, planDir] = process.argv.slice(2)
const module = await import(pathToFileURL(modulePath).href)
const store = kind === "openStorage" ? await module.openStorage(directory) : await module.LogStorageAdapter.open(directory)
const plan = JSON.parse(readFileSync(join(planDir, "plan.json"), "utf8"))
const bytes = readFileSync(join(planDir, "plan.bin"))
let offset = 0
const chunksOf = entries =>
  entries.map(({ key, length }) => {
    const data = new Uint8Array(bytes.buffer, bytes.byteOffset + offset, length).slice()
    offset += length
    return { key, data }
  })
const acknowledged = chunksOf(plan.acknowledged)
const inFlight = chunksOf(plan.inFlight)
const print = line => writeSync(1, line + "\n")

for (const { key, data } of acknowledged) {
  await store.save(key, data)
  print(`A ${JSON.stringify(key)}`)
}
print("ready")
const worker = async () => {
  for (let chunk = inFlight.shift(); chunk; chunk = inFlight.shift()) {
    await store.save(chunk.key, chunk.data)
    print(`A ${JSON.stringify(chunk.key)}`)
  }
}
await Promise.all([worker(), worker(), worker(), worker()])
print("done")
