import { Repo, type StorageAdapterInterface, type Chunk, type StorageKey } from "@automerge/automerge-repo"
import { Database, Machine, type TypeDefinition } from "../src/index.js"

/** An in-memory storage adapter, for unit tests of the core only. */
export class MemoryStorage implements StorageAdapterInterface {
  readonly data = new Map<string, Uint8Array>()
  async load(key: StorageKey) {
    return this.data.get(key.join("\u0000"))
  }
  async save(key: StorageKey, value: Uint8Array) {
    this.data.set(key.join("\u0000"), value)
  }
  async remove(key: StorageKey) {
    this.data.delete(key.join("\u0000"))
  }
  async loadRange(prefix: StorageKey): Promise<Chunk[]> {
    return [...this.data].filter(([k]) => matches(k, prefix)).map(([k, data]) => ({ key: k.split("\u0000"), data }))
  }
  async removeRange(prefix: StorageKey) {
    for (const k of [...this.data.keys()]) if (matches(k, prefix)) this.data.delete(k)
  }
}

function matches(key: string, prefix: StorageKey): boolean {
  const parts = key.split("\u0000")
  return prefix.every((p, i) => parts[i] === p)
}

export async function openDb(options: { storage?: MemoryStorage; machine?: Machine; types?: TypeDefinition<any>[]; repo?: Repo } = {}) {
  const storage = options.storage ?? new MemoryStorage()
  const repo = options.repo ?? new Repo({ storage, network: [] })
  const machine = options.machine ?? (await Machine.generate())
  const db = await Database.open({ repo, machine, storage, types: options.types ?? [] })
  return { db, repo, storage, machine }
}

export function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const start = Date.now()
  return new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        const value = await check()
        if (value) return resolve(value)
      } catch (error) {
        if (Date.now() - start > timeoutMs) return reject(error)
      }
      if (Date.now() - start > timeoutMs) return reject(new Error("timed out waiting"))
      setTimeout(tick, 10)
    }
    void tick()
  })
}
