/**
 * Peers for replication.property.test.ts, all in one process: each a
 * database and replicator on an in-memory storage that outlives its
 * restarts, joined by in-memory links that carry the replicators' control
 * messages (the Repos have no network of their own).
 */
import { Repo, type PeerId, type StorageKey } from "@automerge/automerge-repo"
import { Database, Machine, Replicator, type ControlMessage, type Grants, type TypeDefinition } from "../src/index.js"
import { MemoryStorage, sleep } from "./helpers.js"
import type { PeerSpec } from "./ReplicationModel.js"

export interface TestPeerSpec extends PeerSpec {
  /** Documents per batch of wants (the replicator's batchSize). */
  batchSize: number
  /** Every storage read and write takes this long. */
  storageMs: number
}

const NOTHING: Grants = { read: [], write: [] }

/** A peer: database, replicator and an in-memory storage that outlives restarts. */
export class TestPeer {
  readonly storage: MemoryStorage
  readonly grantsOf = new Map<string, Grants>()
  machine!: Machine
  repo!: Repo
  db!: Database
  replicator!: Replicator
  #opens = 0

  constructor(
    readonly name: string,
    readonly spec: TestPeerSpec,
    private readonly types: TypeDefinition<any>[],
    private readonly problems: string[],
  ) {
    this.storage = spec.storageMs > 0 ? new SlowStorage(spec.storageMs) : new MemoryStorage()
  }

  /** The peer id of this run of the peer (a new one after each restart, as a new process would have). */
  get peerId(): string {
    return `${this.name}.${this.#opens}`
  }

  async open(): Promise<void> {
    this.#opens++
    this.machine ??= await Machine.generate({ name: this.name })
    this.repo = new Repo({ storage: this.storage, network: [], peerId: this.peerId as PeerId })
    this.db = await Database.open({ repo: this.repo, machine: this.machine, storage: this.storage, types: this.spec.relay ? [] : this.types })
    this.replicator = new Replicator(this.db, {
      wants: this.spec.wants,
      relay: this.spec.relay,
      storage: this.storage,
      batchSize: this.spec.batchSize,
      grants: (_, peerId) => this.grantsOf.get(peerId) ?? NOTHING,
      onProtocolError: (peerId, reason) => this.problems.push(`${this.name}: protocol error from ${peerId}: ${reason}`),
    })
  }

  async close(): Promise<void> {
    this.replicator.close()
    await this.db.close()
    const ready = Object.values(this.repo.handles).filter(handle => handle.isReady())
    await Promise.allSettled(ready.map(handle => this.repo.flush([handle.documentId])))
  }

  inSync(): boolean {
    return this.replicator.status().every(status => status.state === "in-sync")
  }
}

/** Storage that takes its time over every read and write. */
class SlowStorage extends MemoryStorage {
  constructor(private readonly ms: number) {
    super()
  }
  override async load(key: StorageKey) {
    await sleep(this.ms)
    return super.load(key)
  }
  override async save(key: StorageKey, value: Uint8Array) {
    await sleep(this.ms)
    return super.save(key, value)
  }
  override async loadRange(prefix: StorageKey) {
    await sleep(this.ms)
    return super.loadRange(prefix)
  }
}

/**
 * Links between the peers' replicators: each message is copied and delivered
 * on a later tick, in order; cutting a link drops what is in flight on it.
 * Every message is shown to `watch` as it is sent, with the grants of the
 * link it is sent on.
 */
export class Links {
  readonly #open = new Map<string, { cut: boolean; ends: [TestPeer, TestPeer] }>()

  constructor(
    private readonly grantsOf: (from: number, to: number) => Grants,
    private readonly latencyMs: number,
    private readonly watch: (from: number, to: number, grants: Grants, message: ControlMessage) => void,
  ) {}

  has(a: number, b: number): boolean {
    return this.#open.has(key(a, b))
  }

  connect(a: number, b: number, peers: TestPeer[]): void {
    const [x, y] = [peers[a]!, peers[b]!]
    const link = { cut: false, ends: [x, y] as [TestPeer, TestPeer] }
    this.#open.set(key(a, b), link)
    const [ab, ba] = [this.grantsOf(a, b), this.grantsOf(b, a)]
    x.grantsOf.set(y.peerId, ab)
    y.grantsOf.set(x.peerId, ba)
    const deliver = (to: Replicator, from: string, [i, j, grants]: [number, number, Grants]) => (message: ControlMessage) => {
      this.watch(i, j, grants, message)
      const copy = structuredClone(message)
      setTimeout(() => {
        if (!link.cut) to.receive(from, copy)
      }, this.latencyMs)
    }
    x.replicator.connected({ peerId: y.peerId, info: y.replicator.localInfo(), send: deliver(y.replicator, x.peerId, [a, b, ab]) })
    y.replicator.connected({ peerId: x.peerId, info: x.replicator.localInfo(), send: deliver(x.replicator, y.peerId, [b, a, ba]) })
  }

  disconnect(a: number, b: number): void {
    const link = this.#open.get(key(a, b))
    if (!link) return
    this.#open.delete(key(a, b))
    link.cut = true
    const [x, y] = link.ends
    x.replicator.disconnected(y.peerId)
    y.replicator.disconnected(x.peerId)
  }

  /** The peers `index` is linked to. */
  of(index: number, count: number): number[] {
    return Array.from({ length: count }, (_, other) => other).filter(other => other !== index && this.has(index, other))
  }
}

function key(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`
}

