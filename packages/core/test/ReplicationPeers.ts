/**
 * Peers for replication.property.test.ts, all in one process: each a
 * database and replicator on an in-memory storage that outlives its
 * restarts, wired as the Node peer wires them (PeerNetwork.ts): the Repo
 * asks the replicator what a peer may have, and a sync message carrying
 * changes to a document of a type the sender may not write is dropped
 * before the Repo sees it. In-memory links carry both the replicators'
 * control messages and automerge-repo's own (its live sync of the
 * documents an app watches).
 */
import {
  NetworkAdapter,
  Repo,
  type Message,
  type PeerId,
  type PeerMetadata,
  type StorageAdapterInterface,
  type StorageKey,
} from "@automerge/automerge-repo"
import { Database, Machine, Replicator, type ControlMessage, type Grants, type TypeDefinition } from "../src/index.js"
import { MemoryStorage, sleep } from "./helpers.js"
import type { PeerSpec } from "./ReplicationModel.js"

export interface TestPeerSpec extends PeerSpec {
  /** Documents per batch of wants (the replicator's batchSize). */
  batchSize: number
  /** Every storage read and write takes this long. */
  storageMs: number
}

/** A peer: database, replicator and an in-memory storage that outlives restarts. */
export class TestPeer {
  readonly storage: MemoryStorage
  readonly grantsOf = new Map<string, Grants>()
  machine!: Machine
  repo!: Repo
  db!: Database
  replicator!: Replicator
  /** Documents the app subscribes to here (so automerge-repo syncs them live), and how to stop. */
  readonly watching = new Map<string, () => void>()
  #opens = 0
  #closeStorage = () => {}

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
    // Each run of the peer sees the storage through its own views, closed with it (see RunStorage).
    const repoStorage = new RunStorage(this.storage, "dropped")
    const storage = new RunStorage(this.storage, "refused")
    this.#closeStorage = () => {
      repoStorage.closed = true
      storage.closed = true
    }
    this.repo = new Repo({
      storage: repoStorage,
      network: [],
      peerId: this.peerId as PeerId,
      shareConfig: {
        announce: (peer, doc) => this.replicator?.shareConfig().announce(peer, doc) ?? Promise.resolve(false),
        access: (peer, doc) => this.replicator?.shareConfig().access(peer, doc) ?? Promise.resolve(false),
      },
    })
    this.db = await Database.open({ repo: this.repo, machine: this.machine, storage, types: this.spec.relay ? [] : this.types })
    this.replicator = new Replicator(this.db, {
      wants: this.spec.wants,
      relay: this.spec.relay,
      storage,
      batchSize: this.spec.batchSize,
      // Work in flight when the run closed fails on its closed storage, as it does in a Node peer: that is no protocol error.
      onProtocolError: (peerId, reason) => storage.closed || this.problems.push(`${this.name}: protocol error from ${peerId}: ${reason}`),
    })
  }

  /** Start or stop subscribing to a document. */
  watch(id: string): "watch" | "unwatch" {
    const stop = this.watching.get(id)
    if (stop) {
      stop()
      this.watching.delete(id)
      return "unwatch"
    }
    this.watching.set(
      id,
      this.db.subscribe(id, () => {}),
    )
    return "watch"
  }

  /** The gate every automerge-repo message passes in a real peer (the adapters' `inbound`); only what it passes reaches the Repo. */
  admits(from: string, message: Message): Promise<boolean> {
    return Promise.resolve(this.replicator.admitRepoMessage(from, message)).then(verdict => verdict === "pass")
  }

  async close(): Promise<void> {
    for (const stop of this.watching.values()) stop()
    this.watching.clear()
    this.replicator.close()
    await this.db.close()
    const ready = Object.values(this.repo.handles).filter(handle => handle.isReady())
    await Promise.allSettled(ready.map(handle => this.repo.flush([handle.documentId])))
    this.#closeStorage()
  }

  inSync(): boolean {
    return this.replicator.status().every(status => status.state === "in-sync")
  }
}

/**
 * One run of a peer's view of its storage. A Node peer closes its store when
 * it closes (NodePeer.close), so what a closed run still has in flight (an
 * ingest, a checkpoint) cannot write into the next run's storage: here the
 * Repo's late writes are dropped (as its retired storage drops them) and the
 * database's are refused (as a closed store refuses them).
 */
class RunStorage implements StorageAdapterInterface {
  closed = false

  constructor(
    private readonly base: StorageAdapterInterface,
    private readonly late: "dropped" | "refused",
  ) {}

  load(key: StorageKey) {
    return this.#read(() => this.base.load(key))
  }
  loadRange(prefix: StorageKey) {
    return this.#read(() => this.base.loadRange(prefix))
  }
  save(key: StorageKey, value: Uint8Array) {
    return this.#write(() => this.base.save(key, value))
  }
  remove(key: StorageKey) {
    return this.#write(() => this.base.remove(key))
  }
  removeRange(prefix: StorageKey) {
    return this.#write(() => this.base.removeRange(prefix))
  }

  #read<T>(read: () => Promise<T>): Promise<T> {
    return this.closed && this.late === "refused" ? Promise.reject(new Error("the store is closed")) : read()
  }

  #write(write: () => Promise<void>): Promise<void> {
    if (!this.closed) return write()
    return this.late === "dropped" ? Promise.resolve() : Promise.reject(new Error("the store is closed"))
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
  readonly #open = new Map<string, { cut: boolean; ends: [TestPeer, TestPeer]; repoEnds: [RepoLinkEnd, RepoLinkEnd] }>()

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
    const repoEnds = RepoLinkEnd.pair(x, y)
    const link = { cut: false, ends: [x, y] as [TestPeer, TestPeer], repoEnds }
    this.#open.set(key(a, b), link)
    const [ab, ba] = [this.grantsOf(a, b), this.grantsOf(b, a)]
    x.grantsOf.set(y.peerId, ab)
    y.grantsOf.set(x.peerId, ba)
    const deliver =
      (to: Replicator, from: string, [i, j, grants]: [number, number, Grants]) =>
      (message: ControlMessage) => {
        this.watch(i, j, grants, message)
        const copy = structuredClone(message)
        setTimeout(() => {
          if (!link.cut) to.receive(from, copy)
        }, this.latencyMs)
      }
    x.replicator.connected({
      peerId: y.peerId,
      info: y.replicator.localInfo(),
      grants: ab,
      send: deliver(y.replicator, x.peerId, [a, b, ab]),
    })
    y.replicator.connected({
      peerId: x.peerId,
      info: x.replicator.localInfo(),
      grants: ba,
      send: deliver(x.replicator, y.peerId, [b, a, ba]),
    })
    // As in the Node peer: the replicators know the peer before the Repos do.
    x.repo.networkSubsystem.addNetworkAdapter(repoEnds[0])
    y.repo.networkSubsystem.addNetworkAdapter(repoEnds[1])
  }

  disconnect(a: number, b: number): void {
    const link = this.#open.get(key(a, b))
    if (!link) return
    this.#open.delete(key(a, b))
    link.cut = true
    const [x, y] = link.ends
    x.repo.networkSubsystem.removeNetworkAdapter(link.repoEnds[0])
    y.repo.networkSubsystem.removeNetworkAdapter(link.repoEnds[1])
    x.replicator.disconnected(y.peerId)
    y.replicator.disconnected(x.peerId)
  }

  /** The peers `index` is linked to. */
  of(index: number, count: number): number[] {
    return Array.from({ length: count }, (_, other) => other).filter(other => other !== index && this.has(index, other))
  }
}

/**
 * One end of an in-memory link for automerge-repo's messages: delivered
 * copied, in order, on a later tick, through the receiving peer's inbound
 * filter; dropped once either end has disconnected.
 */
class RepoLinkEnd extends NetworkAdapter {
  #other!: RepoLinkEnd
  #connected = false
  #queue: Promise<void> = Promise.resolve()

  private constructor(private readonly owner: TestPeer) {
    super()
  }

  static pair(x: TestPeer, y: TestPeer): [RepoLinkEnd, RepoLinkEnd] {
    const [a, b] = [new RepoLinkEnd(x), new RepoLinkEnd(y)]
    a.#other = b
    b.#other = a
    return [a, b]
  }

  isReady(): boolean {
    return true
  }

  whenReady(): Promise<void> {
    return Promise.resolve()
  }

  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    this.#connected = true
    const other = this.#other
    if (!other.#connected) return
    this.emit("peer-candidate", { peerId: other.peerId!, peerMetadata: other.peerMetadata ?? {} })
    other.emit("peer-candidate", { peerId, peerMetadata: this.peerMetadata })
  }

  send(message: Message): void {
    const other = this.#other
    if (!this.#connected || !other.#connected) return
    const copy = structuredClone(message)
    // As the adapters do: what the sender's outbound hook gives (the vouches for the changes) goes just before it, on
    // the same link, and messages are handed over in order, each once the gate has decided.
    const before = this.owner.replicator.outbound(copy.targetId, copy)
    const linked = () => this.#connected && other.#connected
    // A failure (the peer closed meanwhile) drops this message, as a closing connection would, not the ones after it.
    this.#queue = this.#queue
      .then(async () => {
        const control = await before?.().catch(() => undefined)
        await new Promise(resolve => setTimeout(resolve))
        if (!linked()) return
        if (control) other.owner.replicator.receive(copy.senderId, structuredClone(control))
        if ((await other.owner.admits(copy.senderId, copy)) && linked()) other.emit("message", copy)
      })
      .catch(() => {})
  }

  /** Cuts the link for both ends (each Repo hears once that the other went away). */
  disconnect(): void {
    const other = this.#other
    const wereLinked = this.#connected && other.#connected
    this.#connected = false
    other.#connected = false
    if (!wereLinked) return
    this.emit("peer-disconnected", { peerId: other.peerId! })
    other.emit("peer-disconnected", { peerId: this.peerId! })
  }
}

function key(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`
}
