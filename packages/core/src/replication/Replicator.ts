/**
 * Type-filtered, minimal replication between this peer and the peers it is
 * connected to. See protocol.ts for the messages. automerge-repo keeps doing
 * what it does well — live, per-document sync of documents open on both
 * sides — and this does what it does not: deciding which documents a peer
 * may have (by type, from the catalog, without loading them), and moving
 * only the documents that differ, in batches, on connect and whenever the
 * catalog changes.
 */
import * as A from "@automerge/automerge"
import type { Message, PeerId, Repo, StorageAdapterInterface } from "@automerge/automerge-repo"

type ShareConfig = NonNullable<ConstructorParameters<typeof Repo>[0]>["shareConfig"] & {}
import type { CatalogEntry } from "../catalog/Catalog.js"
import type { Database } from "../database/Database.js"
import { containsHeads } from "../document/heads.js"
import { Emitter } from "../helpers/Emitter.js"
import type { InboundVerdict } from "../network/CairnNetworkAdapter.js"
import { CheckpointStore } from "./CheckpointStore.js"
import { PeerSession, type PeerLink, type PeerStatus } from "./PeerSession.js"
import { PROTOCOL_VERSION, malformed, selects, type ControlMessage, type ReplicationInfo, type TypeSelection } from "./protocol.js"

export interface Grants {
  /** Types the peer may receive from us. */
  read: TypeSelection
  /** Types we accept changes to from the peer. */
  write: TypeSelection
}

export interface ReplicatorOptions {
  /** Types this peer wants. */
  wants: TypeSelection
  /** A relay keeps every type it is sent, without schemas. */
  relay?: boolean
  /** Where checkpoints are kept (the database's storage). */
  storage?: StorageAdapterInterface
  /** Documents per `docs` frame. */
  batchSize?: number
  /** How long a pull may go without progress before it is reported and, when it waits on the peer, asked again (default 30 s). */
  stallTimeoutMs?: number
  /** Called with a reason when a peer sends something malformed. */
  onProtocolError?: (peerId: string, reason: string) => void
  /** Called when a pull from a peer stalls or fails (also the `stalled` event); the runtimes log it. */
  onStall?: (peerId: string, reason: string) => void
}

export interface ReplicatorEvents extends Record<string, unknown> {
  status: PeerStatus
  /** A peer refused our changes to these documents (we may not write their type there). */
  denied: { peerId: string; ids: string[]; reason: string }
  /** A pull from a peer made no progress for the stall timeout, or failed; `reason` says what it waits for. */
  stalled: { peerId: string; reason: string }
}

const NOTIFY_DELAY_MS = 15
/** Encoded changes kept for the next peer that asks for the same ones (see bytesFor). */
const ENCODED_CACHE_SIZE = 512

/** The automerge-repo message kinds a peer may send about a document; every other kind is dropped. */
const DOCUMENT_MESSAGES = new Set(["sync", "request", "ephemeral", "doc-unavailable"])

export class Replicator extends Emitter<ReplicatorEvents> {
  readonly #sessions = new Map<string, PeerSession>()
  readonly #checkpoints: CheckpointStore
  readonly wants: TypeSelection
  readonly relay: boolean
  #notifyTimer: ReturnType<typeof setTimeout> | undefined
  #pendingNotify = new Set<string>()
  #stopListening: () => void
  readonly #encoded = new Map<string, Uint8Array>()

  constructor(
    readonly db: Database,
    private readonly options: ReplicatorOptions,
  ) {
    super()
    this.wants = options.relay ? "*" : options.wants
    this.relay = options.relay ?? false
    this.#checkpoints = new CheckpointStore(options.storage)
    const stopChanges = db.on("change", ({ entry }) => this.#changed(entry))
    const stopWatches = db.on("watch", () => db.repo.shareConfigChanged())
    const stopDamage = db.on("damaged", damage => {
      for (const session of this.#sessions.values()) session.fetch([damage])
    })
    this.#stopListening = () => {
      stopChanges()
      stopWatches()
      stopDamage()
    }
  }

  /** What this peer tells others about itself when it connects. */
  localInfo(): ReplicationInfo {
    return {
      protocol: PROTOCOL_VERSION,
      machineId: this.db.machine.machineId,
      ...(this.db.machine.name ? { name: this.db.machine.name } : {}),
      wants: this.wants,
      ...(this.relay ? { relay: true } : {}),
    }
  }

  /**
   * The share policy to give automerge-repo. A peer may access a document
   * only if its type is one the peer may read. automerge-repo announces
   * (starts live sync of) only documents the app is watching: announcing
   * every document in memory would resend each one to every peer on every
   * connect, which the batched protocol already does once, in bulk.
   */
  shareConfig(): ShareConfig {
    const allowed = (peerId: PeerId, documentId?: string) => {
      if (!documentId) return false
      const entry = this.db.catalog.get(documentId)
      const session = this.#sessions.get(peerId)
      return !!entry && !!session && !entry.purged && !entry.quarantined && session.sends(entry.type)
    }
    return {
      announce: async (peerId, documentId) => allowed(peerId, documentId) && this.db.isWatched(documentId!),
      access: async (peerId, documentId) => {
        if (!allowed(peerId, documentId)) return false
        // automerge-repo loads a document that a peer syncs live by itself; give the handle to the store too,
        // so the changes it receives reach the catalog and are checked like any remote change.
        void this.db.store.load(documentId!).catch(() => {})
        return true
      },
    }
  }

  /** A peer finished its handshake: start syncing with it, with the grants its connection was admitted with. */
  connected(link: PeerLink): void {
    this.#sessions.get(link.peerId)?.close()
    const session = new PeerSession(
      this,
      link,
      link.grants ?? { read: "*", write: "*" },
      this.#checkpoints,
      { batchSize: this.options.batchSize ?? 250, stallMs: this.options.stallTimeoutMs ?? 30_000 },
      status => this.emit("status", status),
      (ids, reason) => this.emit("denied", { peerId: link.peerId, ids, reason }),
      reason => {
        this.options.onStall?.(link.peerId, reason)
        this.emit("stalled", { peerId: link.peerId, reason })
      },
    )
    this.#sessions.set(link.peerId, session)
    this.db.repo.shareConfigChanged()
    session.start()
    session.fetch(this.db.damaged())
  }

  /**
   * A peer went away. With `connectionId`, only if its session is still that
   * connection's: a replaced connection closing late must not end the
   * session of the one that took its place.
   */
  disconnected(peerId: string, connectionId?: number): void {
    const session = this.#sessions.get(peerId)
    if (!session || (connectionId !== undefined && session.connectionId !== connectionId)) return
    session.close()
    this.#sessions.delete(peerId)
  }

  /** A control message arrived from a peer. Malformed messages are reported and dropped. */
  receive(peerId: string, message: unknown): void {
    const session = this.#sessions.get(peerId)
    if (!session) return
    const problem = malformed(message)
    if (problem) {
      this.options.onProtocolError?.(peerId, problem)
      return
    }
    session.receive(message as ControlMessage).catch(error => this.options.onProtocolError?.(peerId, String(error)))
  }

  /**
   * The one gate for automerge-repo's messages from a peer, of every kind,
   * before the Repo sees them. Denies by default: no session, a kind not
   * named here (remote-heads gossip, which Cairn leaves off, or any kind a
   * later automerge-repo adds), a document the peer may not have. The answer
   * for a document it may not read is the Repo's answer for one that does not
   * exist (`doc-unavailable`), so it learns nothing of hidden ids. A `sync`
   * or a `request` (automerge-repo applies the changes either carries) that
   * carries changes to a type the peer may not write is dropped, and the
   * peer told why.
   */
  admitRepoMessage(peerId: string, message: Message): InboundVerdict {
    const session = this.#sessions.get(peerId)
    if (!session || !DOCUMENT_MESSAGES.has(message.type)) return "drop"
    const documentId = (message as { documentId?: string }).documentId
    const entry = documentId === undefined ? undefined : this.db.catalog.get(documentId)
    // Only a request for the document is answered: answering a `doc-unavailable` with another could go back and forth forever.
    if (!entry || entry.purged || entry.quarantined || !session.sends(entry.type)) return message.type === "sync" || message.type === "request" ? "unavailable" : "drop"
    if ((message.type !== "sync" && message.type !== "request") || session.accepts(entry.type)) return "pass"
    let changes: number
    try {
      changes = A.decodeSyncMessage((message as { data: Uint8Array }).data).changes.length
    } catch {
      return "drop"
    }
    if (changes === 0) return "pass"
    session.deny([entry.id], `this peer may not write documents of type ${entry.type} here`)
    return "drop"
  }

  /** Every connected peer's sync status. */
  status(): PeerStatus[] {
    return [...this.#sessions.values()].map(s => s.status())
  }

  /**
   * Resolves when every connected peer (or the one given) is in sync both
   * ways; rejects after `timeoutMs` (saying what a stalled pull waits for),
   * or as soon as `problem` names a reason it never will be (a connection
   * refused, for one). Never while a pull is in progress, stalled or not.
   */
  async whenSynced(peerId?: string, timeoutMs = 30_000, problem?: () => string | undefined): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const reason = problem?.()
      if (reason) throw new Error(reason)
      const sessions = peerId ? [this.#sessions.get(peerId)].filter(Boolean) : [...this.#sessions.values()]
      if (sessions.length > 0 && sessions.every(s => s!.inSync())) return
      if (Date.now() > deadline) {
        const stalls = sessions.map(s => s!.status()).filter(status => status.stalled)
        throw new Error(`timed out waiting for sync${stalls.map(status => `; pull from ${status.name ?? status.machineId} stalled: ${status.stalled}`).join("")}`)
      }
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }

  /** Stop: forget every session and listener. */
  close(): void {
    this.#stopListening()
    clearTimeout(this.#notifyTimer)
    for (const session of this.#sessions.values()) session.close()
    this.#sessions.clear()
  }

  /** Whether we keep documents of this type at all. */
  keeps(type: string): boolean {
    return selects(this.wants, type)
  }

  /**
   * Bytes for a document a peer wants: its changes since `have` (the whole
   * document if `have` is empty). Read through the store's cache: a
   * document just changed is wanted by every peer that syncs its type.
   */
  async bytesFor(id: string, have: string[]): Promise<Uint8Array | undefined> {
    const store = this.db.store
    if (have.length === 0) {
      // A whole document: the stored bytes as they are, unless it is in memory (an initial sync loads nothing).
      const inMemory = store.inMemory(id)
      return inMemory ? A.save(inMemory) : store.readStored(id)
    }
    const doc = await store.current(id)
    if (!doc) return undefined
    const known = have.filter(hash => containsHeads(doc, [hash])).sort()
    // A change made on one peer is wanted by every other peer that syncs its type, most of them with the same heads.
    const key = `${id} ${A.getHeads(doc).join()} ${known.join()}`
    let bytes = this.#encoded.get(key)
    if (!bytes) {
      bytes = changesSince(doc, known)
      this.#encoded.set(key, bytes)
      if (this.#encoded.size > ENCODED_CACHE_SIZE) this.#encoded.delete(this.#encoded.keys().next().value!)
    }
    return bytes
  }

  /** True when this peer's copy of a document already contains all of `heads`. */
  async hasHeads(entry: CatalogEntry, heads: string[]): Promise<boolean> {
    if (entry.heads.join() === [...heads].sort().join()) return true
    const doc = await this.db.store.current(entry.id)
    return !!doc && containsHeads(doc, heads)
  }

  /** The catalog changed: tell peers that may read that type to pull (debounced, batched). */
  #changed(entry: CatalogEntry): void {
    for (const session of this.#sessions.values()) {
      if (session.touched(entry)) this.#pendingNotify.add(session.peerId)
    }
    if (this.#pendingNotify.size === 0 || this.#notifyTimer) return
    this.#notifyTimer = setTimeout(() => {
      this.#notifyTimer = undefined
      for (const peerId of this.#pendingNotify) this.#sessions.get(peerId)?.notify()
      this.#pendingNotify.clear()
    }, NOTIFY_DELAY_MS)
  }
}

/**
 * A document's changes since `heads`, encoded for the wire. One change goes
 * as itself (`saveSince`); several go as a bundle, which encodes them
 * together, compressed like a saved document: 20 small changes to a task take
 * about 260 bytes as a bundle against 2,200 one after another, so what a
 * reconnect moves no longer grows with every change made offline. The peer
 * applies either with `loadIncremental`, and stores either as a chunk that
 * loads with the rest. (`saveBundle` is marked experimental in Automerge 3.5;
 * the replication tests check that a bundle round-trips.)
 */
function changesSince(doc: A.Doc<unknown>, heads: string[]): Uint8Array {
  const changes = A.getChangesMetaSince(doc, heads)
  if (changes.length < 2) return A.saveSince(doc, heads)
  return A.saveBundle(doc, changes.map(change => change.hash))
}

export type { PeerLink, PeerStatus }
