import {
  generateAutomergeUrl,
  NetworkAdapter,
  parseAutomergeUrl,
  Repo,
  type Chunk,
  type Message,
  type PeerId,
  type PeerMetadata,
  type StorageAdapterInterface,
  type StorageKey,
} from "@automerge/automerge-repo"
import { Database, Machine, type TypeDefinition } from "../src/index.js"

/**
 * An in-memory storage adapter, for unit tests of the core only. It keeps
 * and hands out copies, as a store on disk does, so a caller that reuses a
 * buffer cannot change what is stored.
 */
export class MemoryStorage implements StorageAdapterInterface {
  readonly data = new Map<string, Uint8Array>()
  /** Every key and prefix read, in order: tests check what a read touched. */
  readonly reads: StorageKey[] = []
  async load(key: StorageKey) {
    this.reads.push(key)
    const value = this.data.get(key.join("\u0000"))
    return value && new Uint8Array(value)
  }
  async save(key: StorageKey, value: Uint8Array) {
    // new Uint8Array(x) copies; a Node Buffer's slice() would not.
    this.data.set(key.join("\u0000"), new Uint8Array(value))
  }
  async remove(key: StorageKey) {
    this.data.delete(key.join("\u0000"))
  }
  async loadRange(prefix: StorageKey): Promise<Chunk[]> {
    this.reads.push(prefix)
    return [...this.data].filter(([k]) => matches(k, prefix)).map(([k, data]) => ({ key: k.split("\u0000"), data: new Uint8Array(data) }))
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

export { sleep, waitFor } from "./wait.js"
import { packVouches } from "../src/identity/vouch.js"

type Opened = Awaited<ReturnType<typeof openDb>>

/** Two databases on two repos and two machines, sharing nothing until documents are sent between them. */
export async function twoPeers(types: TypeDefinition<any>[] = []): Promise<{ a: Opened; b: Opened }> {
  return { a: await openDb({ types }), b: await openDb({ types }) }
}

/** Send documents' full Automerge state from one database to another, as replication does (bytes through `ingest`). */
export async function sendDocs(from: Database, to: Database, ids: string[]) {
  const docs: { id: string; bytes: Uint8Array; vouches: Uint8Array }[] = []
  for (const id of ids) {
    const bytes = await from.replica.store.readStored(id)
    if (!bytes) throw new Error(`no stored bytes for ${id}`)
    docs.push({ id, bytes, vouches: await vouchesOf(from, id) })
  }
  return to.replica.ingest(docs)
}

/** The vouches a database sends with a document (identity/vouch.ts), as a peer would send them. */
export async function vouchesOf(from: Database, id: string): Promise<Uint8Array> {
  return packVouches(await from.replica.vouchesFor(id))
}

/** Exchange documents both ways, so both databases hold every change either made. */
export async function exchange(a: Database, b: Database, ids: string[]) {
  await sendDocs(a, b, ids)
  await sendDocs(b, a, ids)
}

/** Every storage key, each as its parts. */
export function storageKeys(storage: MemoryStorage): string[][] {
  return [...storage.data.keys()].map(key => key.split("\u0000"))
}

/** A valid document id that no database here holds. */
export function unknownId(): string {
  return parseAutomergeUrl(generateAutomergeUrl()).documentId
}

/**
 * Two automerge-repo network adapters joined in memory: give one to each
 * Repo and they sync as over a wire (messages delivered asynchronously).
 */
export function adapterPair(): [NetworkAdapter, NetworkAdapter] {
  const a = new MemoryPairAdapter()
  const b = new MemoryPairAdapter()
  a.partner = b
  b.partner = a
  return [a, b]
}

class MemoryPairAdapter extends NetworkAdapter {
  partner: MemoryPairAdapter | undefined
  #connected = false

  isReady() {
    return true
  }
  whenReady() {
    return Promise.resolve()
  }
  connect(peerId: PeerId, peerMetadata?: PeerMetadata) {
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    this.#connected = true
    const partner = this.partner!
    if (!partner.#connected) return
    this.emit("peer-candidate", { peerId: partner.peerId!, peerMetadata: partner.peerMetadata ?? {} })
    partner.emit("peer-candidate", { peerId, peerMetadata: this.peerMetadata })
  }
  send(message: Message) {
    const partner = this.partner
    // biome-ignore lint/complexity/useOptionalChain: an optional chain cannot reach a private field
    if (!partner || !partner.#connected) return
    setTimeout(() => partner.emit("message", message), 0)
  }
  disconnect() {
    if (!this.#connected) return
    this.#connected = false
    const partner = this.partner!
    if (partner.peerId) this.emit("peer-disconnected", { peerId: partner.peerId })
    if (this.peerId) partner.emit("peer-disconnected", { peerId: this.peerId })
  }
}
