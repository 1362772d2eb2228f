/**
 * What the leader tab runs: the database on IndexedDB, the connection to
 * the server (a Cairn WebSocket client, reconnecting with backoff), and the
 * far end of the other tabs' links. Exactly one tab of an app runs it at a
 * time (the one holding the leader Web Lock), because two writers of one
 * IndexedDB catalog would corrupt its log.
 */
import { IndexedDBStorage } from "./storage/IndexedDBStorage.js"
import { Admission, Peer, type Attachment, type Logger, type Machine, type TypeDefinition, type TypeSelection } from "@cairn/core"
import { CairnClientAdapter, CairnServerAdapter, type BackoffOptions } from "@cairn/core/network"
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
  logger: Logger
  /** The status changed. */
  onStatus: () => void
}

export class Leader {
  readonly #tabLinks: Attachment<CairnServerAdapter>
  readonly #tabs: TabServer
  readonly #unwire: (() => void)[] = []
  #server: Attachment<CairnClientAdapter> | undefined
  #unwireServer: (() => void) | undefined
  #url: string | null = null
  #published = ""
  #closed = false

  private constructor(
    readonly peer: Peer,
    private readonly storage: IndexedDBStorage,
    private readonly options: LeaderOptions,
  ) {
    this.#tabLinks = peer.serve(hooks => new CairnServerAdapter(hooks), { replicators: "per-peer" })
    const onTabPeer = () => this.#changed()
    this.#tabLinks.adapter.on("peer", onTabPeer)
    this.#unwire.push(() => this.#tabLinks.adapter.off("peer", onTabPeer))
    this.#unwire.push(peer.replicator.on("status", () => this.#changed()))
    this.#tabs = new TabServer({
      database: options.database,
      leader: options.tab,
      adapter: this.#tabLinks.transport,
      onConnect: url => this.connect(url),
    })
    this.connect(options.url)
  }

  static async open(options: LeaderOptions): Promise<Leader> {
    const storage = new IndexedDBStorage(options.database, "documents")
    const peer = await Peer.open({ machine: options.machine, storage, types: options.types, wants: options.wants, logger: options.logger })
    return new Leader(peer, storage, options)
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
    this.#server?.transport.reconnect()
  }

  status(): LeaderStatus {
    const server = this.#server?.transport
    const remote = server?.remotePeerId
    const synced = !!remote && this.peer.replicator.status().some(peer => peer.peerId === remote && peer.state === "in-sync")
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
    this.#disconnectServer()
    for (const unwire of this.#unwire) unwire()
    await this.peer.close()
    this.#tabs.close()
    // The adapter has no close(); its connection would keep a later deleteDatabase or upgrade waiting.
    ;(await (this.storage as unknown as { dbPromise: Promise<IDBDatabase> }).dbPromise).close()
  }

  #dial(url: string): Attachment<CairnClientAdapter> {
    const { machine, auth, backoff } = this.options
    const admission = new Admission({
      machine,
      auth: auth.psk !== undefined ? { mode: "psk", secret: auth.psk } : { mode: "open" },
      ...(auth.serverPublicKey !== undefined ? { serverKey: auth.serverPublicKey } : {}),
    })
    const attached = this.peer.dial(hooks => new CairnClientAdapter({ url, ...(backoff ? { backoff } : {}), ...hooks }), { admission })
    const onStatus = () => this.#changed()
    attached.transport.on("status", onStatus)
    this.#unwireServer = () => attached.transport.off("status", onStatus)
    return attached
  }

  #disconnectServer(): void {
    const server = this.#server
    if (!server) return
    this.#server = undefined
    server.detach()
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
