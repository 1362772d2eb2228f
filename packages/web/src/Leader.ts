/**
 * What the leader tab runs: the database on IndexedDB, the connection to
 * the server (a Cairn WebSocket client, reconnecting with backoff), and the
 * far end of the other tabs' links. Exactly one tab of an app runs it at a
 * time (the one holding the leader Web Lock), because two writers of one
 * IndexedDB catalog would corrupt its log.
 */
import { IndexedDBStorageAdapter } from "@automerge/automerge-repo-storage-indexeddb"
import { clientAnswer, newNonce, Replicator, type Machine, type Prover, type TypeDefinition, type TypeSelection } from "@cairn/core"
import { CairnClientAdapter, CairnServerAdapter, type BackoffOptions } from "@cairn/core/network"
import { wireReplicator, wireReplicatorPerPeer } from "./network/wireReplicator.js"
import { openReplicated, type Replicated } from "./openReplicated.js"
import type { LeaderStatus } from "./tabs/protocol.js"
import { TabServer } from "./tabs/TabServer.js"

/** How this browser proves itself to a server that asks (see the Node peer's auth modes). */
export interface ServerAuth {
  /** A pre-shared secret, for a server in `psk` mode. Without it the machine's key answers (`trust` mode). */
  psk?: string
  /** Refuse a server that does not prove it holds this ed25519 public key (hex). */
  serverPublicKey?: string
}

export interface LeaderOptions {
  database: string
  /** This tab's id (its tab lock); followers address the leader by it. */
  tab: string
  machine: Machine
  types: TypeDefinition<any>[]
  wants: TypeSelection
  url: string | null
  auth: ServerAuth
  backoff: BackoffOptions | undefined
  log: (message: string) => void
  /** The status changed. */
  onStatus: () => void
}

export class Leader {
  readonly #tabAdapter: CairnServerAdapter
  readonly #tabs: TabServer
  readonly #unwire: (() => void)[] = []
  #server: CairnClientAdapter | undefined
  #unwireServer: (() => void) | undefined
  #url: string | null = null
  #published = ""
  #closed = false

  private constructor(
    readonly replicated: Replicated,
    private readonly storage: IndexedDBStorageAdapter,
    private readonly options: LeaderOptions,
  ) {
    const { repo, db, replicator, perPeer } = replicated
    this.#tabAdapter = new CairnServerAdapter({
      log: options.log,
      accept: () => ({ ok: true, info: { ...replicator.localInfo() } }),
      inbound: (peer, message) => perPeer.get(peer.peerId)?.admitRepoMessage(peer.peerId, message) ?? "drop",
    })
    const forTab = () => new Replicator(db, { wants: replicator.wants, onProtocolError: (peer, reason) => options.log(`tab ${peer}: ${reason}`) })
    this.#unwire.push(wireReplicatorPerPeer(this.#tabAdapter, forTab, perPeer, options.log))
    const onTabPeer = () => this.#changed()
    this.#tabAdapter.on("peer", onTabPeer)
    this.#unwire.push(() => this.#tabAdapter.off("peer", onTabPeer))
    repo.networkSubsystem.addNetworkAdapter(this.#tabAdapter)
    this.#unwire.push(replicator.on("status", () => this.#changed()))
    this.#tabs = new TabServer({ database: options.database, leader: options.tab, adapter: this.#tabAdapter, onConnect: url => this.connect(url) })
    this.connect(options.url)
  }

  static async open(options: LeaderOptions): Promise<Leader> {
    const storage = new IndexedDBStorageAdapter(options.database, "documents")
    const replicated = await openReplicated({ machine: options.machine, storage, types: options.types, wants: options.wants, log: options.log })
    return new Leader(replicated, storage, options)
  }

  /** Connect to a server, replacing any other (null: stay offline). */
  connect(url: string | null): void {
    if (this.#closed || url === this.#url) return
    this.#disconnectServer()
    this.#url = url
    if (url !== null) this.#server = this.#dial(url)
    this.#changed()
  }

  /** Try the server now instead of waiting out the backoff. */
  reconnect(): void {
    this.#server?.reconnect()
  }

  status(): LeaderStatus {
    const server = this.#server
    const remote = server?.remotePeerId
    const synced = !!remote && this.replicated.replicator.status().some(peer => peer.peerId === remote && peer.state === "in-sync")
    return {
      connection: server ? server.status : "none",
      url: this.#url,
      ...(server?.refusalReason ? { refusal: server.refusalReason } : {}),
      synced,
      tabs: this.#tabs.otherTabs(),
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const { repo, db, replicator } = this.replicated
    this.#disconnectServer()
    for (const unwire of this.#unwire) unwire()
    replicator.close()
    repo.networkSubsystem.removeNetworkAdapter(this.#tabAdapter)
    this.#tabs.close()
    await db.close()
    await repo.shutdown().catch(() => {})
    // The adapter has no close(); its connection would keep a later deleteDatabase or upgrade waiting.
    ;(await (this.storage as unknown as { dbPromise: Promise<IDBDatabase> }).dbPromise).close()
  }

  #dial(url: string): CairnClientAdapter {
    const { machine } = this.options
    const { replicator, repo } = this.replicated
    const auth = this.options.auth
    const prover: Prover = auth.psk !== undefined ? { kind: "psk", machine, secret: auth.psk } : { kind: "key", machine }
    let nonce = newNonce()
    const adapter = new CairnClientAdapter({
      url,
      log: this.options.log,
      inbound: (peer, message) => replicator.admitRepoMessage(peer.peerId, message),
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      info: () => {
        nonce = newNonce()
        return { ...replicator.localInfo(), publicKey: machine.publicKey, nonce }
      },
      answerAuth: message =>
        clientAnswer(prover, { publicKey: machine.publicKey, nonce }, message, (_, publicKey) => auth.serverPublicKey === undefined || auth.serverPublicKey === publicKey),
    })
    const unwire = wireReplicator(adapter, replicator, this.options.log)
    const onStatus = () => this.#changed()
    adapter.on("status", onStatus)
    this.#unwireServer = () => {
      unwire()
      adapter.off("status", onStatus)
    }
    repo.networkSubsystem.addNetworkAdapter(adapter)
    return adapter
  }

  #disconnectServer(): void {
    const server = this.#server
    if (!server) return
    this.#server = undefined
    this.replicated.repo.networkSubsystem.removeNetworkAdapter(server)
    this.#unwireServer?.()
    this.#unwireServer = undefined
  }

  #changed(): void {
    if (this.#closed) return
    const status = this.status()
    const key = JSON.stringify(status)
    if (key !== this.#published) {
      this.#published = key
      this.#tabs.publish(status)
    }
    this.options.onStatus()
  }
}
