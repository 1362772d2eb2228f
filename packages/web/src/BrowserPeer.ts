/**
 * A Cairn peer in the browser: a machine identity kept in IndexedDB, the
 * database on IndexedDB, type-filtered replication with a node peer over
 * WebSocket, and live sharing between the tabs of one app.
 *
 * Tabs elect one leader with the Web Locks API. The leader opens the
 * IndexedDB storage and the server connection; every other tab keeps its
 * database in memory and replicates with the leader over a BroadcastChannel
 * (see tabs/protocol.ts). When the leader tab closes, a follower takes the
 * lock and opens storage and server connection itself, still serving its
 * own page from the database it already had.
 */
import {
  LiveValue,
  TimeoutError,
  Logger,
  type Database,
  type Live,
  type LogCallback,
  type Machine,
  type Replicator,
  type TypeDefinition,
  type TypeSelection,
} from "@cairn/core"
import type { BackoffOptions, ClientStatus } from "@cairn/core/network"
import { Follower } from "./Follower.js"
import { loadBrowserMachine } from "./identity/browserMachine.js"
import { Leader, type ServerAuth } from "./Leader.js"
import { acquireLock, type HeldLock } from "./tabs/locks.js"
import { leaderLockName, randomId, tabLockName, type LeaderStatus } from "./tabs/protocol.js"

export interface BrowserPeerOptions {
  /** The IndexedDB database name, which also names the identity and the tab channel. Default "cairn". */
  name?: string
  /** The node peer's WebSocket URL (ws:// or wss://). Without it the peer works offline until `connect`. */
  url?: string
  /** Type definitions the app knows; their documents are validated. */
  types?: TypeDefinition<any>[]
  /** Types to receive from the server. Default: the names of `types`, or every type ("*") when none are given. */
  wants?: TypeSelection
  /** A human name for this machine, shown to other peers. */
  machineName?: string
  /** How to prove this machine to a server that asks. */
  auth?: ServerAuth
  /** Reconnection delays (default: 250 ms doubling to 30 s, with jitter). */
  backoff?: BackoffOptions
  /** Ask the browser to keep this origin's storage under storage pressure (`navigator.storage.persist()`). */
  persist?: boolean
  /** Where to report network problems and stalled pulls: a callback, or a Logger (with namespaces and levels). Default: `console.warn`. */
  log?: LogCallback | Logger
}

export interface BrowserPeerStatus {
  /**
   * `leader`: this tab holds the IndexedDB storage and the server connection.
   * `follower`: another tab of the app does; this one mirrors it live.
   * `closed`: `close()` was called.
   */
  role: "leader" | "follower" | "closed"
  /**
   * The server connection, as the leader tab sees it. `none`: no URL set.
   * A follower that has lost its leader (for the moment a new one takes
   * over) says `disconnected`.
   */
  connection: "none" | ClientStatus
  /** The server's URL, if one is set. */
  url: string | null
  /** Why the server refused this machine, while `connection` is `refused`. */
  refusal?: string
  /** This tab, the leader and the server hold the same documents of the wanted types. */
  synced: boolean
  /** How many other tabs are linked to the leader (counted by the leader). */
  tabs: number
}

export class BrowserPeer {
  readonly #name: string
  readonly #tab: string
  readonly #options: BrowserPeerOptions
  readonly #logger: Logger
  readonly #tabLock: HeldLock
  readonly #stopWaiting = new AbortController()
  #leader: Leader | undefined
  #leaderLock: HeldLock | undefined
  #follower: Follower | undefined
  #url: string | null
  /** The status, live; a recomputed status that reads the same is no change. */
  readonly #status: LiveValue<BrowserPeerStatus>
  #closed = false
  #promoting: Promise<void> | undefined

  private constructor(
    readonly machine: Machine,
    /** The database this page reads and writes. */
    readonly db: Database,
    /** This page's replicator (its sessions: the server and follower tabs if it leads, the leader tab if it follows). */
    readonly replicator: Replicator,
    init: {
      name: string
      tab: string
      options: BrowserPeerOptions
      logger: Logger
      tabLock: HeldLock
      leader?: Leader
      leaderLock?: HeldLock
      follower?: Follower
    },
  ) {
    this.#name = init.name
    this.#tab = init.tab
    this.#options = init.options
    this.#logger = init.logger
    this.#tabLock = init.tabLock
    this.#leader = init.leader
    this.#leaderLock = init.leaderLock
    this.#follower = init.follower
    this.#url = init.options.url ?? null
    this.#status = new LiveValue(this.#compute(), undefined, (a, b) => JSON.stringify(a) === JSON.stringify(b))
    globalThis.addEventListener?.("online", this.#onOnline)
  }

  /** The browser says the network is back: try the server now rather than after the backoff. */
  readonly #onOnline = () => this.reconnect()

  /**
   * Open the database `name` in this tab. The first tab of the app becomes
   * the leader; later tabs follow it and share its data live. Needs a
   * secure context (https:// or http://localhost / 127.0.0.1).
   */
  static async open(options: BrowserPeerOptions = {}): Promise<BrowserPeer> {
    checkEnvironment()
    if (options.url !== undefined) checkUrl(options.url)
    const name = options.name ?? "cairn"
    const logger = Logger.from(options.log ?? (message => console.warn(`cairn: ${message}`)))
    const types = options.types ?? []
    const wants: TypeSelection = options.wants ?? (types.length > 0 ? types.map(type => type.name) : "*")
    if (options.persist) await navigator.storage?.persist?.().catch(() => false)
    const { machine } = await loadBrowserMachine(name, options.machineName)
    const tab = randomId()
    const tabLock = (await acquireLock(tabLockName(name, tab)))!
    let peer: BrowserPeer | undefined
    const onStatus = () => {
      if (peer) peer.#changed()
    }
    const common = { database: name, tab, machine, types, wants, logger, onStatus }
    const leaderLock = await acquireLock(leaderLockName(name), { ifAvailable: true })
    try {
      if (leaderLock) {
        const leader = await Leader.open({ ...common, url: options.url ?? null, auth: options.auth ?? {}, backoff: options.backoff })
        const { db, replicator } = leader.peer
        peer = new BrowserPeer(machine, db, replicator, { name, tab, options, logger, tabLock, leader, leaderLock })
      } else {
        const follower = await Follower.open(common)
        const { db, replicator } = follower.peer
        peer = new BrowserPeer(machine, db, replicator, { name, tab, options, logger, tabLock, follower })
        peer.#waitForLeadership()
        if (options.url) follower.requestConnect(options.url)
      }
    } catch (error) {
      leaderLock?.release()
      tabLock.release()
      throw error
    }
    return peer
  }

  /** Where this tab stands; `onStatus` reports every change. */
  get status(): BrowserPeerStatus {
    return this.#status.value
  }

  /** The status as a live value (see liveStatus). */
  get live(): Live<BrowserPeerStatus> {
    return this.#status
  }

  /** Call `listener` with the status now and on every change. Returns the function that stops it. */
  onStatus(listener: (status: BrowserPeerStatus) => void): () => void {
    return this.#status.subscribe(listener)
  }

  /**
   * Connect to a node peer's WebSocket URL, replacing any other; the
   * connection is retried with backoff until `disconnect()` or `close()`.
   * From a follower tab the leader tab is asked to do it.
   */
  connect(url: string): void {
    checkUrl(url)
    this.#setUrl(url)
  }

  /** Drop the server connection and stop retrying (the database keeps working offline). */
  disconnect(): void {
    this.#setUrl(null)
  }

  /** Try the server now instead of waiting out the backoff (for example when the browser says it is online again). */
  reconnect(): void {
    this.#leader?.reconnect()
  }

  /** Resolves when `status.synced` is true: this tab, the leader and the server hold the same documents. */
  whenSynced(timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop()
        reject(new TimeoutError(`not in sync with the server after ${timeoutMs} ms (connection: ${this.#status.value.connection})`))
      }, timeoutMs)
      const stop = this.onStatus(status => {
        if (!status.synced) return
        clearTimeout(timer)
        queueMicrotask(() => stop())
        resolve()
      })
    })
  }

  /**
   * Resolves when every write made in this tab so far is in IndexedDB. In
   * the leader tab a write's own promise already means that; in a follower
   * tab writes resolve in memory and reach IndexedDB through the leader.
   */
  async whenSaved(timeoutMs = 10_000): Promise<void> {
    if (this.#follower) await this.#follower.whenSaved(timeoutMs)
    else await this.db.replica.flush()
  }

  /** Close the database, the server connection and the tab link; another tab may then lead. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    globalThis.removeEventListener?.("online", this.#onOnline)
    this.#stopWaiting.abort()
    await this.#promoting?.catch(() => {})
    await this.#follower?.close()
    await this.#leader?.close()
    this.#leaderLock?.release()
    this.#tabLock.release()
    this.#changed()
    this.#status.close()
  }

  #setUrl(url: string | null): void {
    if (this.#closed) return
    this.#url = url
    this.#leader?.connect(url)
    this.#follower?.requestConnect(url)
    this.#changed()
  }

  /** A follower waits in line for the leader lock; when it gets it, it opens storage and the server connection here. */
  #waitForLeadership(): void {
    acquireLock(leaderLockName(this.#name), { signal: this.#stopWaiting.signal }).then(
      lock => {
        if (!lock) return
        if (this.#closed) return lock.release()
        this.#leaderLock = lock
        this.#promoting = this.#promote().catch(error => {
          this.#logger.warn(`this tab could not take over as leader: ${(error as Error)?.message ?? error}`)
          this.#leaderLock = undefined
          lock.release()
        })
      },
      () => {},
    )
  }

  async #promote(): Promise<void> {
    const url = this.#url ?? this.#follower?.leaderStatus?.url ?? null
    const types = this.#options.types ?? []
    const leader = await Leader.open({
      database: this.#name,
      tab: this.#tab,
      machine: this.machine,
      types,
      wants: this.replicator.wants,
      url,
      auth: this.#options.auth ?? {},
      backoff: this.#options.backoff,
      logger: this.#logger,
      onStatus: () => this.#changed(),
    })
    if (this.#closed) return leader.close()
    this.#leader = leader
    this.#url = url
    this.#changed()
  }

  #compute(): BrowserPeerStatus {
    const role = this.#closed ? "closed" : this.#leader ? "leader" : "follower"
    const follower = this.#follower
    const hub: LeaderStatus | undefined = this.#leader?.status() ?? follower?.leaderStatus
    const connection = hub?.connection ?? (this.#url ? "disconnected" : "none")
    return {
      role,
      connection,
      url: hub?.url ?? this.#url,
      ...(hub?.refusal ? { refusal: hub.refusal } : {}),
      synced: !this.#closed && !!hub?.synced && (!follower || follower.inSync()),
      tabs: hub?.tabs ?? 0,
    }
  }

  #changed(): void {
    this.#status.set(this.#compute())
  }
}

function checkEnvironment(): void {
  const missing = [
    typeof indexedDB === "undefined" && "IndexedDB",
    typeof BroadcastChannel === "undefined" && "BroadcastChannel",
    !globalThis.navigator?.locks && "the Web Locks API",
    !globalThis.crypto?.subtle && "WebCrypto",
  ].filter(Boolean)
  if (missing.length === 0) return
  const insecure =
    globalThis.isSecureContext === false ? " This page is not a secure context: serve it over https:// or from localhost / 127.0.0.1." : ""
  throw new Error(`Cairn's browser peer needs ${missing.join(", ")}, which this environment lacks.${insecure}`)
}

function checkUrl(url: string): void {
  let protocol: string | undefined
  try {
    protocol = new URL(url).protocol
  } catch {
    protocol = undefined
  }
  if (protocol !== "ws:" && protocol !== "wss:")
    throw new TypeError(`a node peer's URL starts with ws:// or wss://, got ${JSON.stringify(url)}`)
}
