/**
 * A Cairn peer in Node: a data directory (identity, types, documents on
 * disk), the database over an automerge-repo Repo, and replication with
 * other peers over WebSocket or TCP, as a server, a client, or both.
 */
import { resolve } from "node:path"
import type { Repo } from "@automerge/automerge-repo"
import {
  Admission,
  Logger,
  Peer,
  type PeerOptions,
  type Database,
  type Presence,
  type LogCallback,
  type PeerStatus,
  type Replicator,
  type TypeDefinition,
  type TypeSelection,
} from "@cairn/core"
import { DataDirectory } from "./DataDirectory.js"
import { openStorage, type PeerStorage } from "./storage/openStorage.js"
import { storageForRepo, type RepoStorage } from "./storage/storageForRepo.js"
import { PgState } from "./storage/postgres/PgState.js"
import { PgStorage } from "./storage/postgres/PgStorage.js"
import { PgFollower } from "./storage/postgres/PgFollower.js"
import { PgStore } from "./storage/postgres/PgStore.js"
import {
  PeerNetwork,
  type AuthMode,
  type ConnectOptions,
  type ListenOptions,
  type NetworkLimits,
  type ServerAddress,
  type TcpListenOptions,
} from "./PeerNetwork.js"
import { TrustList } from "./TrustList.js"
import { Discovery, type DiscoveryOptions, type NearbyMachine } from "./discovery/Discovery.js"
import { connectNearby, trustsByFingerprint } from "./discovery/connectNearby.js"
import { FolderSync, type FolderSyncOptions } from "./folder/FolderSync.js"
import { LocalServer } from "./local/LocalServer.js"
import { SOCKET_NAME } from "./local/wire.js"

export interface NodePeerOptions {
  /** The data directory (created if missing). */
  dir: string
  /** Type definitions the app knows; they are also saved in the directory for other tools. */
  types?: TypeDefinition<any>[]
  /** Types this peer wants from others (default: every type). */
  wants?: TypeSelection
  /** Keep every type sent, without schemas (a relay). */
  relay?: boolean
  /** Publish the definitions as schema documents on open (default true; see PeerOptions.publishDefinitions in core). */
  publishDefinitions?: boolean
  /** A human name for this machine (saved). */
  name?: string
  /**
   * Where to report protocol problems and refusals, storage damage and
   * stalled pulls: a callback, or a Logger (with namespaces and levels).
   * Default: storage damage and stalls as process warnings, the rest silent.
   */
  log?: LogCallback | Logger
  /**
   * How peers authenticate (default `{ mode: "open" }` for the library;
   * `cairn serve` defaults to `trust`). See PeerNetwork's AuthMode.
   */
  auth?: AuthMode
  /** Per-connection limits (frame size, connections per machine, message rate). */
  limits?: NetworkLimits
  /** Presence timing: republish every `heartbeatMs` (default 10 s); a machine silent for `expireMs` (default three heartbeats) is dropped. */
  presence?: PeerOptions["presence"]
  /**
   * Serve the apps on this machine on `<dir>/cairn.sock` (see local/LocalServer.ts), so `openLocal` and `cairn`
   * commands reach this peer instead of waiting for the directory (default true). A peer that holds the
   * directory for a moment only (one `cairn` command) need not.
   */
  localSocket?: boolean
  /**
   * A relay's PostgreSQL store (`postgres://USER@HOST:PORT/DB[?schema=NAME]`): documents, catalog, checkpoints,
   * identity, trust list and types live there instead of the directory, which keeps only this process's lock
   * and local socket. Several processes (each with a directory of its own) given one store serve at once as one
   * relay: one identity, and each process's clients get what the others write, live (see PgFollower). The
   * directory remembers it: opened later without `store` (a `cairn` command while no relay process runs), it
   * opens the same store.
   */
  store?: string
}

export class NodePeer {
  #closing: Promise<void> | undefined
  /** Resolves once damage found on open is dealt with for good (see handleStorageDamage); close waits for it. */
  #damageSettled: { stop(): Promise<void> } | undefined
  #local: LocalServer | undefined
  /** With a shared store: what reads the other processes' commits (stopped before the storage closes). */
  #follower: PgFollower | undefined
  #discovery: { discovery: Discovery; stop: () => void } | undefined
  readonly #folders = new Set<FolderSync>()

  private constructor(
    readonly directory: DataDirectory,
    /** The peer as core assembles it: Repo, database, replicator and the transports attached to it. */
    readonly peer: Peer,
    readonly network: PeerNetwork,
    readonly trust: TrustList,
    private readonly storage: PeerStorage,
    private readonly repoStorage: RepoStorage,
  ) {}

  /** Open a peer on a data directory. Throws DirectoryLockedError if another process has it open. */
  static async open(options: NodePeerOptions): Promise<NodePeer> {
    const directory = await DataDirectory.open(options.dir)
    await directory.lock()
    let storage: PeerStorage | undefined
    let follower: PgFollower | undefined
    let opened: NodePeer | undefined
    try {
      const storeUrl = options.store ?? (await directory.store())
      const shared = storeUrl ? new PgState(await PgStore.open(storeUrl)) : undefined
      if (options.store) await directory.saveStore(options.store)
      // From here on the store's connections are closed with the storage (on failure too).
      const sharedStorage = shared && new PgStorage(shared.store)
      storage = sharedStorage
      const state = shared ?? directory
      const machine = await state.machine(options.name)
      if (options.types?.length) await state.saveTypes(options.types)
      const types = await state.types()
      const logger = options.log ? Logger.from(options.log) : Logger.warningsTo(message => process.emitWarning(message))
      const storageLog = logger.child("storage")
      storage ??= await openStorage(directory.storePath, {
        onDamage: damage =>
          storageLog.warn(
            `storage: skipped a damaged record (${damage.reason}, ${damage.length} bytes at ${damage.offset}${damage.key ? `, key ${damage.key.join("/")}` : ""})`,
          ),
      })
      const repoStorage = storageForRepo(storage, message => storageLog.warn(message))
      const peer = await Peer.open({
        machine,
        types,
        wants: options.relay ? "*" : (options.wants ?? "*"),
        relay: options.relay ?? false,
        storage,
        repoStorage,
        storageDamaged: storage.damage.catalog,
        logger,
        ...(options.presence ? { presence: options.presence } : {}),
        ...(options.publishDefinitions === false ? { publishDefinitions: false } : {}),
      })
      if (sharedStorage) {
        follower = new PgFollower(sharedStorage, peer.db.replica, peer.db.catalog.durableSeq, error =>
          storageLog.warn(`storage: reading the store's new commits failed (${error.message}); trying again`),
        )
        await follower.start()
      }
      const damageSettled = await handleStorageDamage(peer, storage, storageLog)
      const trust = await TrustList.open(directory.path, shared?.trustStore())
      if (follower)
        follower.onTrust = () =>
          void trust.reload().catch(error => storageLog.warn(`storage: reading the relay's trust list failed (${error.message})`))
      const admission = new Admission({
        machine,
        auth: options.auth ?? { mode: "open" },
        trust,
        ...(options.limits?.connectionsPerMachine !== undefined ? { connectionsPerMachine: options.limits.connectionsPerMachine } : {}),
      })
      const network = new PeerNetwork(peer, admission, options.limits)
      // A machine removed or given other grants (here, or by another process of a relay) keeps no connection admitted under the old ones.
      trust.onChange = () => network.recheckAdmissions()
      // A machine removed with `untrust`: its changes are refused whoever passes them on (their vouches name it).
      peer.db.replica.store.vouches.revoked = machineId => trust.removed(machineId)
      opened = new NodePeer(directory, peer, network, trust, storage, repoStorage)
      opened.#follower = follower
      opened.#damageSettled = damageSettled
      if (options.localSocket !== false) await opened.#serveLocal(logger.child("local"))
      return opened
    } catch (error) {
      await follower?.close()
      await storage?.close().catch(() => {})
      await directory.unlock()
      throw error
    }
  }

  /** Listen on the directory's socket; a peer that cannot (a path too long for a socket) still works, unreachable by apps. */
  async #serveLocal(log: Logger): Promise<void> {
    try {
      this.#local = await LocalServer.start(this, log)
    } catch (error) {
      log.warn(`local: cannot listen on ${this.directory.path}/${SOCKET_NAME} (${(error as Error).message}); apps cannot share this peer`)
    }
  }

  /** The local socket apps on this machine reach this peer through (undefined with `localSocket: false`). */
  get local(): LocalServer | undefined {
    return this.#local
  }

  get repo(): Repo {
    return this.peer.repo
  }

  get db(): Database {
    return this.peer.db
  }

  get replicator(): Replicator {
    return this.peer.replicator
  }

  /** Which machines are up, their states and the network they see: `presence.set(state)`, `presence.subscribe(fn)`. */
  get presence(): Presence {
    return this.peer.presence
  }

  get machineId(): string {
    return this.db.machine.machineId
  }

  /** Serve other peers over WebSocket (127.0.0.1 unless told otherwise). */
  listen(options: ListenOptions = {}): Promise<ServerAddress> {
    return this.network.listen(options)
  }

  /** Serve other peers over TCP too (tcps:// with a certificate; 127.0.0.1 unless told otherwise). */
  listenTcp(options: TcpListenOptions): Promise<ServerAddress> {
    return this.network.listenTcp(options)
  }

  /** Connect to a peer's server (ws://, wss://, tcp:// or tcps://); reconnects with backoff until closed. */
  connect(url: string, options: ConnectOptions = {}): void {
    this.network.connect(url, options)
  }

  /**
   * Find peers on the local network (DNS-SD over multicast DNS), and be found when `advertise` gives the ports this
   * peer listens on. A machine found that the trust list trusts, with the key it advertises, is connected to;
   * nothing is sent to any other (see discovery/). Stopped by `close`.
   */
  discover(options: Pick<DiscoveryOptions, "advertise" | "intervalMs" | "interface" | "log"> = {}): Discovery {
    if (this.#discovery) return this.#discovery.discovery
    const discovery = this.#newDiscovery(options)
    const stop = connectNearby(discovery, this.network, this.machineId)
    this.#discovery = { discovery: discovery.start(), stop }
    return discovery
  }

  /** The machines on the local network: what the running discovery found, or else what one look of `waitMs` finds (advertising nothing). */
  async nearby(waitMs = 3000): Promise<NearbyMachine[]> {
    if (this.#discovery) return this.#discovery.discovery.nearby()
    const look = this.#newDiscovery({ intervalMs: Math.max(250, Math.floor(waitMs / 3)) }).start()
    await new Promise(resolve => setTimeout(resolve, waitMs))
    const found = look.nearby()
    await look.stop()
    return found
  }

  #newDiscovery(options: Pick<DiscoveryOptions, "advertise" | "intervalMs" | "interface" | "log">): Discovery {
    const { machine } = this.db
    return new Discovery({
      ...options,
      machineId: machine.machineId,
      publicKey: machine.publicKey,
      ...(machine.name ? { name: machine.name } : {}),
      trusts: trustsByFingerprint(id => this.trust.find(id)),
    })
  }

  /** The discovery started by `discover`, if any. */
  get discovery(): Discovery | undefined {
    return this.#discovery?.discovery
  }

  /**
   * Sync through a shared folder (see folder/FolderSync.ts): `sync()` on the
   * result once, or `start()` it to keep syncing until it is stopped or the
   * peer closes. Reads and writes the types this peer wants. A folder this
   * peer syncs through already is that same sync (its options stay).
   */
  async syncFolder(dir: string, options: FolderSyncOptions = {}): Promise<FolderSync> {
    const existing = this.folders().find(folder => folder.dir === resolve(dir))
    if (existing) return existing
    const folder = await FolderSync.open(
      { db: this.db, trust: this.trust, wants: this.replicator.wants, dataDir: this.directory.path, logger: this.peer.logger },
      dir,
      options,
    )
    this.#folders.add(folder)
    return folder
  }

  /** The folders this peer syncs through. */
  folders(): FolderSync[] {
    return [...this.#folders]
  }

  /** Sync status of every connected peer. */
  peers(): PeerStatus[] {
    return this.replicator.status()
  }

  /** Resolves when every connected peer is in sync both ways; rejects with the reason if a server this peer dials refused it. */
  whenSynced(timeoutMs?: number): Promise<void> {
    return this.replicator.whenSynced(undefined, timeoutMs, () => {
      const refused = this.network.clients().find(client => client.status === "refused")
      return refused && `cannot sync with ${refused.url}: ${refused.refusal ?? "refused"}`
    })
  }

  /** Flush everything to disk, disconnect, and release the directory (also when a flush fails: the error is rethrown). */
  close(): Promise<void> {
    // A second caller waits for the same close.
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    try {
      await this.#local?.close()
      this.#discovery?.stop()
      await this.#discovery?.discovery.stop()
      for (const folder of this.#folders) await folder.stop()
      await this.network.close()
      await this.trust.close()
    } finally {
      try {
        await this.#damageSettled?.stop()
        // First: what it would apply now would find the database closing.
        await this.#follower?.close()
        await this.peer.close()
      } finally {
        this.repoStorage.retire()
        await this.storage.close()
        await this.directory.unlock()
      }
    }
  }
}

/**
 * Deal with damage the storage found (on this open or an earlier one). The
 * storage keeps its record of it (damage.json) until every damaged document
 * is whole again, taken back from a peer, so a restart before that still
 * fetches them; then both logs are compacted, which drops the damaged records
 * (or every open would find them again and report the same damage), and the
 * record is forgotten.
 */
async function handleStorageDamage(peer: Peer, storage: PeerStorage, log: Logger): Promise<{ stop(): Promise<void> } | undefined> {
  const { db } = peer
  const damage = storage.damage
  if (!damage.catalog && !damage.unknownDocuments && damage.documents.length === 0) return undefined
  if (damage.catalog) {
    // The catalog was rebuilt from the damaged documents, so it cannot tell what they lack: fetch them again.
    for (const id of damage.documents)
      db.replica.noteDamaged(id, "a stored record of it was damaged; fetched again from peers to be whole", [])
  } else {
    // The intact catalog lists every document's heads: checking against it finds what the damage took.
    await db.verify(damage.unknownDocuments ? undefined : damage.documents)
  }
  if (db.damaged().length > 0)
    log.warn(
      `storage: ${db.damaged().length} damaged document(s) will be fetched again from peers: ${db
        .damaged()
        .map(d => d.id)
        .join(", ")}`,
    )
  await db.replica.flush()
  const settle = async () => {
    await db.replica.flush()
    await storage.compact()
    await storage.damageHandled()
  }
  if (db.damaged().length === 0) {
    await settle()
    return undefined
  }
  // A document is whole again when a peer's copy lands (a change) or a peer confirms it has nothing more (a pull ends).
  let settling: Promise<void> | undefined
  const check = () => {
    if (settling || db.damaged().length > 0) return
    unsubscribe()
    settling = settle().catch(error =>
      log.warn(
        `storage: compacting after damage was repaired failed (${(error as Error)?.message ?? error}); it is found again on the next open`,
      ),
    )
  }
  const stops = [db.on("change", check), peer.replicator.on("status", check)]
  const unsubscribe = () => {
    for (const stop of stops.splice(0)) stop()
  }
  return {
    stop: async () => {
      unsubscribe()
      await settling
    },
  }
}
