// The process LogStorageAdapter.crash.test.ts kills with SIGKILL. It saves,
// overwrites and removes keys as fast as it can, eight at a time, and prints
// a line before each operation starts ("B") and after its promise resolves
// ("A"), so the test knows exactly which states each key may be found in.
//
//   node LogStorageAdapter.crash-child.mjs <adapter module> <directory> <round>
//
// Lines go out with writeSync: an asynchronous stdout write still queued in
// this process when it is killed would be lost, and a lost "B" line would
// make a durable but unacknowledged write look like corruption.
import { writeSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"

/** The value of version `version` of `key`: pseudo-random bytes and length, so the test can recompute it. */
export function valueFor(key, version) {
  let seed = 2166136261
  for (const char of `${key}#${version}`) seed = Math.imul(seed ^ char.charCodeAt(0), 16777619) >>> 0
  const next = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    return seed
  }
  // Mostly small, like automerge chunks; now and then large, so a kill often lands mid-write.
  const length = next() % 16 === 0 ? 50_000 + (next() % 100_000) : 1 + (next() % 2_000)
  const value = new Uint8Array(length)
  for (let i = 0; i < length; i++) value[i] = next() >>> 24
  return value
}

/** The storage key the test and this process use for key number `n` of round `round`. */
export function storageKey(round, n) {
  return [`doc-${round}-${n % 23}`, "incremental", String(n)]
}

async function main() {
  const [modulePath, directory, roundText] = process.argv.slice(2)
  const round = Number(roundText)
  const { LogStorageAdapter } = await import(pathToFileURL(modulePath).href)
  const adapter = await LogStorageAdapter.open(directory, { compactMinDeadBytes: 32 * 1024 })
  const print = line => writeSync(1, line + "\n")
  print("ready")

  const versions = new Map() // key number -> latest acknowledged version, for keys that exist and are idle
  let nextKey = 0
  let random = round * 7919 + 1
  const pick = n => {
    random = (Math.imul(random, 1103515245) + 12345) >>> 0
    return random % n
  }

  async function operate() {
    const idle = [...versions.keys()]
    const choice = pick(100)
    if (choice < 40 && idle.length > 0) {
      const n = idle[pick(idle.length)]
      const version = versions.get(n) + 1
      versions.delete(n)
      print(`B ${n} ${version}`)
      await adapter.save(storageKey(round, n), valueFor(storageKey(round, n).join("/"), version))
      print(`A ${n} ${version}`)
      versions.set(n, version)
    } else if (choice < 65 && idle.length > 0) {
      const n = idle[pick(idle.length)]
      versions.delete(n)
      print(`B ${n} removed`)
      await adapter.remove(storageKey(round, n))
      print(`A ${n} removed`)
    } else {
      const n = nextKey++
      print(`B ${n} 0`)
      await adapter.save(storageKey(round, n), valueFor(storageKey(round, n).join("/"), 0))
      print(`A ${n} 0`)
      versions.set(n, 0)
    }
  }

  const worker = async () => {
    for (;;) await operate()
  }
  await Promise.all(Array.from({ length: 8 }, worker))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch(error => {
    writeSync(2, `${error?.stack ?? error}\n`)
    process.exit(1)
  })
}
