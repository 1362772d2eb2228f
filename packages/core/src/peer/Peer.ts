/**
 * A Cairn peer, whatever runs it: a Repo, the database over it and its
 * replicator, wired so that automerge-repo asks the replicator which
 * documents each peer may have (by type, from the catalog), and the
 * transports attached to it (see Attachment.ts). A runtime adds only what
 * is its own: where storage lives, which sockets it has, its tabs.
 */
import { Repo, type PeerId, type StorageAdapterInterface } from "@automerge/automerge-repo"
import { Database } from "../database/Database.js"
import { publishOnOpen, type PublishReport } from "../database/publishOnOpen.js"
import { Logger } from "../helpers/Logger.js"
import type { MachineIdentity } from "../identity/Machine.js"
import type { CairnClientAdapter } from "../network/CairnClientAdapter.js"
import { Presence, type PresenceOptions } from "../presence/Presence.js"
import { describeMismatch } from "../replication/definitions.js"
import { Replicator } from "../replication/Replicator.js"
import type { TypeSelection } from "../replication/protocol.js"
import type { TypeDefinition } from "../schema/TypeDefinition.js"
import {
  Attachment,
  type AttachablePeer,
  type AttachOptions,
  type ClientHooks,
  type ServerHooks,
  type ServerTransport,
} from "./Attachment.js"

export interface PeerOptions {
  readonly machine: MachineIdentity
  /** Type definitions the app knows; documents of other types are stored and synced without validation. */
  readonly types: TypeDefinition<any>[]
  /** Types this peer wants from others. */
  readonly wants: TypeSelection
  /** Keep every type sent, without schemas (a relay). */
  readonly relay?: boolean
  /** The database's storage (catalog, checkpoints). Without it the peer lives in memory. */
  readonly storage?: StorageAdapterInterface
  /** What the Repo writes through, when it is not `storage` itself. */
  readonly repoStorage?: StorageAdapterInterface
  /** The storage skipped damaged records on open (see `DatabaseOptions.storageDamaged`). */
  readonly storageDamaged?: boolean
  /**
   * Publish this peer's definitions as schema documents when it opens, where no identical one is stored yet
   * (database/publishOnOpen.ts), so relays, the CLI and the dashboard learn them from sync. Default true; false keeps a
   * peer's field names to itself (its peers still learn its definitions at connect).
   */
  readonly publishDefinitions?: boolean
  /** Default: silent. */
  readonly logger?: Logger
  /** How often presence is published again while nothing changed, and when a silent machine is dropped (see PresenceOptions). */
  readonly presence?: Pick<PresenceOptions, "heartbeatMs" | "expireMs">
}

export class Peer {
  readonly logger: Logger
  /** Replicators of their own, by peer id; automerge-repo asks theirs about them (see `AttachOptions.replicators`). */
  readonly #own = new Map<string, Replicator>()
  readonly #attachments = new Set<Attachment<unknown>>()
  /** What the attachments may do to this peer. */
  readonly #side: AttachablePeer
  /** Which machines are up, their states, and the network they see (see presence/Presence.ts). */
  readonly presence: Presence
  /** What opening published of this peer's definitions (see database/publishOnOpen.ts). */
  published: PublishReport = { published: [], conflicts: [] }
  #closed = false

  private constructor(
    readonly repo: Repo,
    readonly db: Database,
    /** Replicates with every peer that has no replicator of its own. */
    readonly replicator: Replicator,
    logger: Logger,
    presence: PeerOptions["presence"],
  ) {
    this.logger = logger
    this.presence = new Presence(replicator, db.machine, {
      ...presence,
      documents: {
        load: id => db.replica.store.load(id),
        watch: id => db.replica.watch(id),
        machineOf: peerId =>
          this.#replicatorOf(peerId)
            .status()
            .find(status => status.peerId === peerId)?.machineId,
      },
    })
    const sync = logger.child("sync")
    // A definition another peer cannot live beside ours is worth a warning: it is why its documents will be quarantined.
    const warnIncompatible = (r: Replicator) =>
      r.on("incompatible", ({ machineId, mismatches }) => {
        const name = r.status().find(status => status.machineId === machineId)?.name ?? machineId
        for (const mismatch of mismatches) sync.warn(describeMismatch(mismatch, name))
      })
    warnIncompatible(replicator)
    const end = (peerId: string) => {
      const own = this.#own.get(peerId)
      if (!own) return
      this.#own.delete(peerId)
      own.disconnected(peerId)
      own.close()
    }
    this.#side = {
      repo,
      replicator,
      logger,
      startOwnReplicator: peerId => {
        end(peerId)
        const own = new Replicator(db, { wants: replicator.wants, onProtocolError: (peer, reason) => sync.info(`peer ${peer}: ${reason}`) })
        warnIncompatible(own)
        this.#own.set(peerId, own)
        return own
      },
      ownReplicator: peerId => this.#own.get(peerId),
      endOwnReplicator: end,
      detached: attachment => void this.#attachments.delete(attachment),
    }
  }

  static async open(options: PeerOptions): Promise<Peer> {
    const logger = options.logger ?? Logger.silent
    const sync = logger.child("sync")
    const peerId = `${options.machine.machineId}-${Math.random().toString(36).slice(2, 10)}` as PeerId
    let peer: Peer | undefined
    const replicatorOf = (peerId: string) => (peer ? peer.#replicatorOf(peerId) : undefined)
    const storage = options.repoStorage ?? options.storage
    const repo = new Repo({
      ...(storage ? { storage } : {}),
      network: [],
      peerId,
      shareConfig: {
        announce: (peer, doc) => replicatorOf(peer)?.shareConfig().announce(peer, doc) ?? Promise.resolve(false),
        access: (peer, doc) => replicatorOf(peer)?.shareConfig().access(peer, doc) ?? Promise.resolve(false),
      },
    })
    const db = await Database.open({
      repo,
      machine: options.machine,
      types: options.types,
      ...(options.storage ? { storage: options.storage } : {}),
      ...(options.storageDamaged ? { storageDamaged: true } : {}),
    })
    const replicator = new Replicator(db, {
      wants: options.wants,
      relay: options.relay ?? false,
      ...(options.storage ? { storage: options.storage } : {}),
      onProtocolError: (peer, reason) => sync.info(`peer ${peer}: ${reason}`),
      // Never silent: a pull that stops moving is worth a warning even where protocol noise is not.
      onStall: (peer, reason) => sync.warn(`sync with peer ${peer}: ${reason}`),
    })
    peer = new Peer(repo, db, replicator, logger, options.presence)
    if (options.publishDefinitions !== false) peer.published = await publishDefinitionsOnOpen(db, options.storage, logger.child("schema"))
    return peer
  }

  /**
   * Attach a server transport: `build` makes it with the peer's hooks
   * spread into its adapter's options, e.g.
   * `peer.serve(hooks => new CairnServerAdapter(hooks), { admission })`.
   */
  serve<T extends ServerTransport>(build: (hooks: ServerHooks) => T, options?: AttachOptions): Attachment<T> {
    return this.#track(Attachment.serve(this.#side, build, options))
  }

  /** Attach a client adapter: `peer.dial(hooks => new CairnClientAdapter({ url, ...hooks }), { admission })`. */
  dial<T extends CairnClientAdapter>(build: (hooks: ClientHooks) => T, options?: AttachOptions): Attachment<T> {
    return this.#track(Attachment.dial(this.#side, build, options))
  }

  /**
   * Detach every transport, stop replicating and close the database; then
   * save what the Repo holds (also when closing failed: the error is rethrown).
   * Storage stays open: the runtime that opened it closes it.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      this.presence.close()
      for (const attachment of [...this.#attachments]) attachment.detach()
      this.replicator.close()
      await this.db.close()
    } finally {
      // Not repo.shutdown(): in automerge-repo 2.5.6 it rejects at the first handle that is not ready and leaves
      // the other saves running after close returns (into storage the runtime is about to close).
      const ready = Object.values(this.repo.handles).filter(handle => handle.isReady())
      await Promise.allSettled(ready.map(handle => this.repo.flush([handle.documentId])))
    }
  }

  #replicatorOf(peerId: string): Replicator {
    return this.#own.get(peerId) ?? this.replicator
  }

  #track<T>(attachment: Attachment<T>): Attachment<T> {
    if (this.#closed) {
      attachment.detach()
      throw new Error("the peer is closed")
    }
    this.#attachments.add(attachment as Attachment<unknown>)
    return attachment
  }
}

/** Publish what is not published yet; a conflict or a failure is a warning, never a reason for the peer not to open. */
async function publishDefinitionsOnOpen(db: Database, storage: StorageAdapterInterface | undefined, log: Logger): Promise<PublishReport> {
  try {
    const report = await publishOnOpen(db, storage)
    for (const conflict of report.conflicts) log.warn(`${conflict}; this peer's definition is not published`)
    return report
  } catch (error) {
    log.warn(`publishing this peer's definitions failed: ${(error as Error).message}`)
    return { published: [], conflicts: [] }
  }
}
