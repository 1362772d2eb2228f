/**
 * A Cairn peer in Node: a data directory (identity, types, documents on
 * disk), the database over an automerge-repo Repo, and replication with
 * other peers over WebSocket, as a server, a client, or both.
 */
import { Repo, type PeerId } from "@automerge/automerge-repo"
import { Database, Replicator, type PeerStatus, type TypeDefinition, type TypeSelection } from "@cairn/core"
import { DataDirectory } from "./DataDirectory.js"
import { openStorage, type PeerStorage } from "./storage/openStorage.js"
import { storageForRepo, type RepoStorage } from "./storage/storageForRepo.js"
import { PeerNetwork, type AuthMode, type ConnectOptions, type ListenOptions, type NetworkLimits, type ServerAddress } from "./PeerNetwork.js"
import { TrustList } from "./TrustList.js"

export interface NodePeerOptions {
  /** The data directory (created if missing). */
  dir: string
  /** Type definitions the app knows; they are also saved in the directory for other tools. */
  types?: TypeDefinition<any>[]
  /** Types this peer wants from others (default: every type). */
  wants?: TypeSelection
  /** Keep every type sent, without schemas (a relay). */
  relay?: boolean
  /** A human name for this machine (saved). */
  name?: string
  /** Log protocol problems and refusals (default: silent). */
  log?: (message: string) => void
  /**
   * How peers authenticate (default `{ mode: "open" }` for the library;
   * `cairn serve` defaults to `trust`). See PeerNetwork's AuthMode.
   */
  auth?: AuthMode
  /** Per-connection limits (frame size, connections per machine, message rate). */
  limits?: NetworkLimits
}

export class NodePeer {
  #closed = false

  private constructor(
    readonly directory: DataDirectory,
    readonly repo: Repo,
    readonly db: Database,
    readonly replicator: Replicator,
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
    try {
      const machine = await directory.machine(options.name)
      if (options.types?.length) await directory.saveTypes(options.types)
      const types = await directory.types()
      const log = options.log ?? ((message: string) => process.emitWarning(message))
      storage = await openStorage(directory.storePath, {
        onDamage: damage => log(`storage: skipped a damaged record (${damage.reason}, ${damage.length} bytes at ${damage.offset}${damage.key ? `, key ${damage.key.join("/")}` : ""})`),
      })
      const peerId = `${machine.machineId}-${Math.random().toString(36).slice(2, 10)}` as PeerId
      let replicator: Replicator | undefined
      const repoStorage = storageForRepo(storage, log)
      const repo = new Repo({
        storage: repoStorage,
        network: [],
        peerId,
        shareConfig: {
          announce: (peer, doc) => replicator?.shareConfig().announce(peer, doc) ?? Promise.resolve(false),
          access: (peer, doc) => replicator?.shareConfig().access(peer, doc) ?? Promise.resolve(false),
        },
      })
      const db = await Database.open({ repo, machine, storage, types, storageDamaged: storage.damage.catalog })
      await handleStorageDamage(db, storage, log)
      const trust = await TrustList.open(directory.path)
      let network: PeerNetwork | undefined
      replicator = new Replicator(db, {
        wants: options.relay ? "*" : (options.wants ?? "*"),
        relay: options.relay ?? false,
        storage,
        onProtocolError: (peer, reason) => options.log?.(`peer ${peer}: ${reason}`),
        // Never silent: a pull that stops moving is worth a warning even where protocol noise is not.
        onStall: (peer, reason) => log(`sync with peer ${peer}: ${reason}`),
      })
      network = new PeerNetwork(repo, replicator, machine, options.auth ?? { mode: "open" }, trust, options.limits, options.log)
      return new NodePeer(directory, repo, db, replicator, network, trust, storage, repoStorage)
    } catch (error) {
      await storage?.close().catch(() => {})
      await directory.unlock()
      throw error
    }
  }

  get machineId(): string {
    return this.db.machine.machineId
  }

  /** Serve other peers over WebSocket (127.0.0.1 unless told otherwise). */
  listen(options: ListenOptions = {}): Promise<ServerAddress> {
    return this.network.listen(options)
  }

  /** Connect to a peer's server; reconnects with backoff until closed. */
  connect(url: string, options: ConnectOptions = {}): void {
    this.network.connect(url, options)
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
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      this.replicator.close()
      await this.network.close()
      await this.trust.close()
      await this.db.close()
    } finally {
      // Not repo.shutdown(): in automerge-repo 2.5.6 it rejects at the first handle that is not ready and leaves
      // the other saves running after close returns (into a directory another process may open next).
      const ready = Object.values(this.repo.handles).filter(handle => handle.isReady())
      await Promise.allSettled(ready.map(handle => this.repo.flush([handle.documentId])))
      this.repoStorage.retire()
      await this.storage.close()
      await this.directory.unlock()
    }
  }
}

/** Deal with damage the storage found (on this open or an earlier one), then let it forget the record. */
async function handleStorageDamage(db: Database, storage: PeerStorage, log: (message: string) => void): Promise<void> {
  const damage = storage.damage
  if (!damage.catalog && !damage.unknownDocuments && damage.documents.length === 0) return
  if (damage.catalog) {
    // The catalog was rebuilt from the damaged documents, so it cannot tell what they lack: fetch them again.
    for (const id of damage.documents) db.replica.noteDamaged(id, "a stored record of it was damaged; fetched again from peers to be whole", [])
  } else {
    // The intact catalog lists every document's heads: checking against it finds what the damage took.
    await db.verify(damage.unknownDocuments ? undefined : damage.documents)
  }
  if (db.damaged().length > 0) log(`storage: ${db.damaged().length} damaged document(s) will be fetched again from peers: ${db.damaged().map(d => d.id).join(", ")}`)
  await db.replica.flush()
  await storage.damageHandled()
}
