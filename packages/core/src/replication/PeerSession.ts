/**
 * Replication with one connected peer: serving its pulls (offers and
 * documents of the types it may read, never another id) and pulling from it
 * (wanting only what differs, ingesting in batches, then moving the
 * checkpoint). Messages from one peer are handled one at a time, in order.
 */
import type { CatalogEntry } from "../catalog/Catalog.js"
import type { CheckpointStore } from "./CheckpointStore.js"
import { selects, type Checkpoint, type ControlMessage, type OfferEntry, type ReplicationInfo } from "./protocol.js"
import type { Grants, Replicator } from "./Replicator.js"

/** The transport's side of a connected peer. */
export interface PeerLink {
  /** The automerge-repo peer id of the connection. */
  peerId: string
  /** What the peer said about itself in its handshake. */
  info: ReplicationInfo
  /** Send a control message to the peer. */
  send(message: ControlMessage): void
  /** What the peer may read and write here, as its connection was admitted; default: everything. */
  grants?: Grants
  /** The connection this session belongs to (see `RemotePeer.connectionId`). */
  connectionId?: number
  /** Resolves when the connection can take more; producers of many messages await it between them. */
  whenDrained?(): Promise<void>
}

export interface PeerStatus {
  peerId: string
  machineId: string
  name?: string
  wants: ReplicationInfo["wants"]
  relay: boolean
  state: "syncing" | "in-sync" | "closed"
  /** When the last pull from this peer completed (ms), or null. */
  lastSyncAt: number | null
  /** Documents sent to / received from this peer in this connection. */
  sent: number
  received: number
}

const OFFER_CHUNK = 2000
/** Documents read at once when answering a want. */
const READ_SLICE = 50
/** A `docs` frame is sent once it holds this many bytes of documents. */
const DOCS_FRAME_BYTES = 4 * 1024 * 1024

export class PeerSession {
  #queue: Promise<void> = Promise.resolve()
  #closed = false
  #pulling = false
  #pullAgain = false
  #pulledOnce = false
  #offer: { epoch: string; seq: number; done: boolean } | undefined
  #outstanding = new Set<string>()
  #wantQueue: { id: string; have: string[] }[] = []
  /**
   * Documents the peer said it holds (in its offers), with those heads. Serving
   * its pull skips a document whose heads here are the same: after an initial
   * sync, offering back the 1,000 documents it just sent us would move their ids and
   * heads again (about 100 bytes each) for the peer to find it has them all.
   */
  readonly #peerHas = new Map<string, string>()
  #remotePulledSeq = -1
  #relevantSeq = 0
  #lastSyncAt: number | null = null
  #sent = 0
  #received = 0

  constructor(
    private readonly replicator: Replicator,
    private readonly link: PeerLink,
    private readonly grants: Grants,
    private readonly checkpoints: CheckpointStore,
    private readonly batchSize: number,
    private readonly onStatus: (status: PeerStatus) => void,
    private readonly onDenied: (ids: string[], reason: string) => void,
  ) {
    for (const entry of replicator.db.catalog.entries()) {
      if (this.sends(entry.type)) this.#relevantSeq = Math.max(this.#relevantSeq, entry.seq ?? 0)
    }
  }

  get peerId(): string {
    return this.link.peerId
  }

  get connectionId(): number | undefined {
    return this.link.connectionId
  }

  /** May this peer receive documents of `type` from us? */
  sends(type: string): boolean {
    return selects(this.link.info.wants, type) && selects(this.grants.read, type) && this.replicator.keeps(type)
  }

  /** Do we take documents of `type` from this peer? */
  accepts(type: string): boolean {
    return this.replicator.keeps(type) && selects(this.grants.write, type)
  }

  /**
   * May the peer learn that a document of `type` exists here? Not when it
   * may neither read nor write the type: to it, such a document is one we
   * do not have, and every answer it gets about it says so.
   */
  #mayKnow(type: string): boolean {
    return selects(this.grants.read, type) || selects(this.grants.write, type)
  }

  /** We hold this id, and the peer may not know it. */
  #hides(id: string): boolean {
    const entry = this.replicator.db.catalog.get(id)
    return entry !== undefined && !this.#mayKnow(entry.type)
  }

  start(): void {
    this.#pull()
  }

  close(): void {
    this.#closed = true
    this.onStatus(this.status())
  }

  /** Tell the peer we refused its changes to these documents, and why. */
  deny(ids: string[], reason: string): void {
    this.#send({ t: "denied", ids, reason })
  }

  /**
   * Ask the peer for documents found damaged here, even though it did not
   * offer them (it offers only what changed since our checkpoint). A peer
   * that does not have one, or may not send it, answers "not available".
   */
  fetch(damaged: { id: string; type: string }[]): void {
    for (const { id, type } of damaged) {
      if (type !== "unknown" && !this.accepts(type)) continue
      if (this.#outstanding.has(id) || this.#wantQueue.some(want => want.id === id)) continue
      this.#wantQueue.push({ id, have: this.replicator.db.catalog.get(id)?.heads ?? [] })
    }
    this.#sendWants()
  }

  /** Tell the peer we have changes it may want. */
  notify(): void {
    this.#send({ t: "notify" })
  }

  /** Note that an entry the peer may read changed (so we are not in sync until it pulls again). */
  touched(entry: CatalogEntry): void {
    if (this.sends(entry.type)) this.#relevantSeq = Math.max(this.#relevantSeq, entry.seq ?? 0)
  }

  inSync(): boolean {
    return !this.#closed && this.#pulledOnce && !this.#pulling && !this.#pullAgain && this.#remotePulledSeq >= this.#relevantSeq
  }

  status(): PeerStatus {
    const info = this.link.info
    return {
      peerId: this.link.peerId,
      machineId: info.machineId,
      ...(info.name ? { name: info.name } : {}),
      wants: info.wants,
      relay: info.relay ?? false,
      state: this.#closed ? "closed" : this.inSync() ? "in-sync" : "syncing",
      lastSyncAt: this.#lastSyncAt,
      sent: this.#sent,
      received: this.#received,
    }
  }

  /** Handle one message (queued behind the previous ones). */
  receive(message: ControlMessage): Promise<void> {
    const run = this.#queue.then(() => (this.#closed ? undefined : this.#handle(message)))
    this.#queue = run.catch(() => {})
    return run
  }

  async #handle(message: ControlMessage): Promise<void> {
    switch (message.t) {
      case "pull":
        return this.#serve(message.since)
      case "offer":
        return this.#onOffer(message)
      case "want":
        return this.#onWant(message.docs)
      case "docs":
        return this.#onDocs(message.docs, message.refused ?? [])
      case "pulled":
        this.#remotePulledSeq = Math.max(this.#remotePulledSeq, message.seq)
        this.onStatus(this.status())
        return
      case "notify":
        return this.#pull()
      case "denied":
        this.onDenied(message.ids, message.reason)
        return
    }
  }

  #scope(): string {
    // Our own catalog's epoch too: a rebuilt catalog (after damage) may lack documents we once pulled, so pull everything again.
    return JSON.stringify([this.replicator.wants, this.grants.write, this.replicator.db.catalog.epoch])
  }

  #pull(): void {
    if (this.#pulling) {
      this.#pullAgain = true
      return
    }
    this.#pulling = true
    this.onStatus(this.status())
    void this.checkpoints.get(this.link.info.machineId, this.#scope()).then(since => this.#send({ t: "pull", since }))
  }

  async #serve(since: Checkpoint | null): Promise<void> {
    const catalog = this.replicator.db.catalog
    // The checkpoint we offer must be on disk (see Catalog.durableSeq): write what is pending first.
    await this.replicator.db.flush()
    await catalog.flush()
    const seq = catalog.durableSeq
    // A checkpoint holds only for the types it was served for: one the peer took while it could read fewer
    // (a narrower read grant) must not skip the documents of the others that changed before it.
    const epoch = `${catalog.epoch}:${this.#readScope()}`
    const from = since && since.epoch === epoch ? since.seq : 0
    const entries: OfferEntry[] = []
    for (const entry of catalog.changedSince(from)) {
      if (entry.quarantined || !this.sends(entry.type)) continue
      const theirs = this.#peerHas.get(entry.id)
      if (theirs !== undefined) {
        this.#peerHas.delete(entry.id)
        if (!entry.purged && theirs === entry.heads.join()) continue
      }
      entries.push(entry.purged ? { id: entry.id, type: entry.type, heads: [], purged: true, deletedAt: entry.deletedAt } : { id: entry.id, type: entry.type, heads: entry.heads })
    }
    for (let i = 0; i < entries.length || i === 0; i += OFFER_CHUNK) {
      const chunk = entries.slice(i, i + OFFER_CHUNK)
      this.#send({ t: "offer", epoch, seq, entries: chunk, done: i + OFFER_CHUNK >= entries.length })
    }
  }

  /** What decides which types we send this peer (see `sends`). */
  #readScope(): string {
    // Only what the peer knows already (its wants and its read grant): the types this peer keeps are not its business.
    return JSON.stringify([this.link.info.wants, this.grants.read])
  }

  async #onOffer(offer: Extract<ControlMessage, { t: "offer" }>): Promise<void> {
    const db = this.replicator.db
    const denied: string[] = []
    for (const entry of offer.entries) {
      const offered = [...entry.heads].sort().join()
      if (!entry.purged) this.#peerHas.set(entry.id, offered)
      const hidden = this.#hides(entry.id)
      const local = hidden ? undefined : db.catalog.get(entry.id)
      if (!this.accepts(entry.type)) {
        if (local && !local.purged && local.heads.join() !== offered) denied.push(entry.id)
        continue
      }
      // An offer naming another type than the document has is a lie; a hidden one is answered as if missing (wanted, then dropped on arrival).
      if (local && local.type !== entry.type) continue
      if (entry.purged) {
        // A tombstone for an id we do not hold is kept (and passed on) only from a peer that may write every type: from
        // any other, whether it changed something here would tell it whether we hold a document it may not know of.
        if (hidden || (!local && this.grants.write !== "*")) continue
        if (!local?.purged) {
          db.purgeLocally({ id: entry.id, type: entry.type, createdAt: local?.createdAt ?? 0, createdBy: local?.createdBy ?? "", modifiedAt: Date.now(), deletedAt: entry.deletedAt ?? Date.now(), heads: [], purged: true }, "remote")
        }
        continue
      }
      if (local?.purged) continue
      if (!local) this.#wantQueue.push({ id: entry.id, have: [] })
      else if (local.type === entry.type && !(await this.replicator.hasHeads(local, entry.heads))) this.#wantQueue.push({ id: entry.id, have: local.heads })
    }
    if (denied.length > 0) this.deny(denied, "this peer may not write documents of these types here")
    if (offer.done) this.#offer = { epoch: offer.epoch, seq: offer.seq, done: true }
    this.#sendWants()
    await this.#maybeFinish()
  }

  #sendWants(): void {
    while (this.#wantQueue.length > 0 && this.#outstanding.size < this.batchSize * 4) {
      const batch = this.#wantQueue.splice(0, this.batchSize)
      for (const want of batch) this.#outstanding.add(want.id)
      this.#send({ t: "want", docs: batch })
    }
  }

  /**
   * Answer a want in `docs` frames of at most about DOCS_FRAME_BYTES, read a
   * slice at a time, waiting for the connection to drain between frames: a
   * batch of large documents neither fills one huge frame nor sits in memory
   * whole while a slow peer reads.
   */
  async #onWant(wants: { id: string; have: string[] }[]): Promise<void> {
    const db = this.replicator.db
    let docs: { id: string; bytes: Uint8Array }[] = []
    let refused: { id: string; reason: string }[] = []
    let bytes = 0
    for (let i = 0; i < wants.length; i += READ_SLICE) {
      await Promise.all(
        wants.slice(i, i + READ_SLICE).map(async ({ id, have }) => {
          const entry = db.catalog.get(id)
          // The same answer whether the id is unknown or of a type the peer may not read: its existence is not revealed.
          if (!entry || entry.purged || entry.quarantined || !this.sends(entry.type)) return refused.push({ id, reason: "not available" })
          const found = await this.replicator.bytesFor(id, have)
          if (!found) return refused.push({ id, reason: "not available" })
          docs.push({ id, bytes: found })
          bytes += found.byteLength
        }),
      )
      if (bytes < DOCS_FRAME_BYTES && i + READ_SLICE < wants.length) continue
      this.#sent += docs.length
      this.#send({ t: "docs", docs, refused })
      docs = []
      refused = []
      bytes = 0
      await this.link.whenDrained?.()
      if (this.#closed) return
    }
    if (wants.length === 0) this.#send({ t: "docs", docs, refused })
  }

  async #onDocs(docs: { id: string; bytes: Uint8Array }[], refused: { id: string }[]): Promise<void> {
    const asked = docs.filter(doc => this.#outstanding.has(doc.id) && !this.#hides(doc.id))
    if (asked.length > 0) {
      await this.replicator.db.ingest(asked, type => this.accepts(type))
      this.#received += asked.length
    }
    for (const doc of docs) this.#outstanding.delete(doc.id)
    for (const doc of refused) this.#outstanding.delete(doc.id)
    this.#sendWants()
    await this.#maybeFinish()
  }

  async #maybeFinish(): Promise<void> {
    if (!this.#offer?.done || this.#outstanding.size > 0 || this.#wantQueue.length > 0) return
    const { epoch, seq } = this.#offer
    this.#offer = undefined
    await this.checkpoints.set(this.link.info.machineId, this.#scope(), { epoch, seq })
    this.#pulling = false
    this.#pulledOnce = true
    this.#lastSyncAt = Date.now()
    this.#send({ t: "pulled", seq })
    if (this.#pullAgain) {
      this.#pullAgain = false
      this.#pull()
    }
    this.onStatus(this.status())
  }

  #send(message: ControlMessage): void {
    if (this.#closed) return
    try {
      this.link.send(message)
    } catch {
      // The connection is going away; the transport reports the disconnect.
    }
  }
}
