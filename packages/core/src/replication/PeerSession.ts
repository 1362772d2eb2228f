/**
 * Replication with one connected peer: serving its pulls (offers and
 * documents of the types it may read, never another id) and pulling from it
 * (wanting only what differs, ingesting in batches, then moving the
 * checkpoint). Messages from one peer are handled in order, in two lanes:
 * serving (pull, want) and pulling (the rest), so a batch we are slow to
 * ingest never holds up what we send the peer, nor the other way round.
 *
 * A pull always ends: one that makes no progress for the stall timeout is
 * reported (the `stalled` status, `onStall`) and, when it waits on the peer,
 * retried (the pull again if no offer came, else the wanted documents that
 * got no answer); one whose batch could not be stored ends without moving the
 * checkpoint and is pulled again later.
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
  /** Set while a pull from this peer has made no progress for the stall timeout: what it is waiting for. */
  stalled?: string
}

export interface SessionSettings {
  /** Documents per `want`; at most four wants are outstanding. */
  batchSize: number
  /** How long a pull may go without progress before it is reported (and, when it waits on the peer, retried). */
  stallMs: number
}

const OFFER_CHUNK = 2000
/** Documents read at once when answering a want. */
const READ_SLICE = 50
/** A `docs` frame is sent once it holds this many bytes of documents. */
const DOCS_FRAME_BYTES = 4 * 1024 * 1024
/** A pull that failed (its batch could not be stored) is tried again after this, doubling to a minute. */
const RETRY_MS = 1000

export class PeerSession {
  readonly #lanes = { serve: Promise.resolve(), pull: Promise.resolve() }
  #closed = false
  #pulling = false
  #pullAgain = false
  #pulledOnce = false
  /** Numbers our pulls; the peer's offers say which pull they answer, so one for a pull given up on is ignored. */
  #pullId = 0
  #offer: { epoch: string; seq: number; done: boolean } | undefined
  /** Wanted documents not answered yet, with the heads we had when we asked. */
  readonly #outstanding = new Map<string, string[]>()
  #wantQueue: { id: string; have: string[] }[] = []
  /** When the pull in progress last moved (sent, offered, a batch answered). */
  #progressAt = 0
  /** The message the pulling lane is handling, and since when. */
  #handling: { what: string; since: number } | undefined
  #pullFailed: unknown
  #retryMs = RETRY_MS
  #stalled: string | undefined
  /** Entries the peer sent us changed here during our pull from it: it is told to pull when that pull is over (see touched). */
  #echo = false
  #watchdog: ReturnType<typeof setInterval> | undefined
  #retry: ReturnType<typeof setTimeout> | undefined
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
    private readonly settings: SessionSettings,
    private readonly onStatus: (status: PeerStatus) => void,
    private readonly onDenied: (ids: string[], reason: string) => void,
    private readonly onStall: (reason: string) => void,
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
    this.#watchdog = setInterval(() => this.#checkProgress(), Math.max(10, this.settings.stallMs / 4))
    this.#pull()
  }

  close(): void {
    this.#closed = true
    clearInterval(this.#watchdog)
    clearTimeout(this.#retry)
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
    this.#echo = false
    this.#send({ t: "notify" })
  }

  /**
   * Note that an entry changed; true when the peer should be told to pull.
   * We are not in sync until it has pulled past every entry it may read. One
   * it just sent us with these heads it does not need, only its checkpoint
   * of us must move past it: the peer is told once our pull from it is over,
   * not after every batch of it (each would cost it a pull that finds
   * nothing to want, 40 for an initial sync of 10,000, and under load one
   * per client for every batch the server sends it).
   */
  touched(entry: CatalogEntry): boolean {
    if (!this.sends(entry.type)) return false
    this.#relevantSeq = Math.max(this.#relevantSeq, entry.seq ?? 0)
    if (entry.purged || this.#peerHas.get(entry.id) !== entry.heads.join() || !this.#pulling) return true
    this.#echo = true
    return false
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
      ...(this.#stalled ? { stalled: this.#stalled } : {}),
    }
  }

  /** Handle one message (queued behind the previous ones of its lane). */
  receive(message: ControlMessage): Promise<void> {
    const lane = message.t === "pull" || message.t === "want" ? "serve" : "pull"
    const run = this.#lanes[lane].then(async () => {
      if (this.#closed) return
      if (lane === "serve") return this.#handle(message)
      this.#handling = { what: describe(message), since: Date.now() }
      try {
        await this.#handle(message)
      } finally {
        this.#handling = undefined
      }
    })
    this.#lanes[lane] = run.catch(() => {})
    return run
  }

  async #handle(message: ControlMessage): Promise<void> {
    switch (message.t) {
      case "pull":
        return this.#serve(message.since, message.id)
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
    this.#pullFailed = undefined
    this.#sendPull()
    this.onStatus(this.status())
  }

  #sendPull(): void {
    const id = ++this.#pullId
    this.#offer = undefined
    this.#progressAt = Date.now()
    this.checkpoints.get(this.link.info.machineId, this.#scope()).then(
      since => id === this.#pullId && this.#send({ t: "pull", since, id }),
      // Unreadable checkpoints: pull everything.
      () => id === this.#pullId && this.#send({ t: "pull", since: null, id }),
    )
  }

  async #serve(since: Checkpoint | null, pull: number | undefined): Promise<void> {
    const catalog = this.replicator.db.catalog
    // The checkpoint we offer must be on disk (see Catalog.durableSeq): wait for the writes in progress. If they
    // fail, the offer still goes out, with the checkpoint that is on disk: the peer must get an answer.
    await this.replicator.db.flush().catch(() => {})
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
      this.#send({ t: "offer", epoch, seq, entries: chunk, done: i + OFFER_CHUNK >= entries.length, ...(pull !== undefined ? { pull } : {}) })
    }
  }

  /** What decides which types we send this peer (see `sends`). */
  #readScope(): string {
    // Only what the peer knows already (its wants and its read grant): the types this peer keeps are not its business.
    return JSON.stringify([this.link.info.wants, this.grants.read])
  }

  async #onOffer(offer: Extract<ControlMessage, { t: "offer" }>): Promise<void> {
    // An answer to a pull given up on (see #checkProgress): the pull sent since has its own.
    if (offer.pull !== undefined && offer.pull !== this.#pullId) return
    this.#progress()
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
    const { batchSize } = this.settings
    while (this.#wantQueue.length > 0 && this.#outstanding.size < batchSize * 4) {
      const batch = this.#wantQueue.splice(0, batchSize)
      for (const want of batch) this.#outstanding.set(want.id, want.have)
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
          // A document that cannot be read here is refused like one that is not here: every want gets an answer.
          const found = await this.replicator.bytesFor(id, have).catch(() => undefined)
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
    if (asked.length > 0 || refused.some(doc => this.#outstanding.has(doc.id))) this.#progress()
    if (asked.length > 0) {
      try {
        await this.replicator.db.ingest(asked, type => this.accepts(type))
        this.#received += asked.length
      } catch (error) {
        // Not stored (a full disk, a closing database): this pull must not move the checkpoint past them.
        this.#pullFailed = error
      }
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
    const failure = this.#pullFailed
    if (failure === undefined) {
      try {
        await this.checkpoints.set(this.link.info.machineId, this.#scope(), { epoch, seq })
      } catch {
        // The checkpoint stays where it was: the next pull asks for these entries again.
      }
    }
    this.#pulling = false
    this.#stalled = undefined
    if (failure !== undefined) {
      this.onStall(`pulling from this peer failed (${(failure as Error)?.message ?? failure}); trying again in ${seconds(this.#retryMs)}`)
      this.#retry = setTimeout(() => this.#closed || this.#pull(), this.#retryMs)
      this.#retryMs = Math.min(60_000, this.#retryMs * 2)
      this.onStatus(this.status())
      return
    }
    this.#retryMs = RETRY_MS
    this.#pulledOnce = true
    this.#lastSyncAt = Date.now()
    this.#send({ t: "pulled", seq })
    if (this.#pullAgain) {
      this.#pullAgain = false
      this.#pull()
    } else if (this.#echo) {
      this.notify()
    }
    this.onStatus(this.status())
  }

  #progress(): void {
    this.#progressAt = Date.now()
    if (this.#stalled === undefined) return
    this.#stalled = undefined
    this.onStatus(this.status())
  }

  /**
   * The watchdog of the pull in progress. Busy with a message of the peer's
   * for the whole stall timeout: reported. Waiting on the peer as long: reported,
   * and asked again (a lost or dropped answer, a peer that gave up on it).
   */
  #checkProgress(): void {
    if (this.#closed || !this.#pulling) return
    const now = Date.now()
    const { stallMs } = this.settings
    const busy = this.#handling
    let stalled: string | undefined
    if (busy && now - busy.since >= stallMs) {
      stalled = `handling ${busy.what} from this peer has taken ${seconds(now - busy.since)}`
    } else if (!busy && now - this.#progressAt >= stallMs) {
      const waited = seconds(now - this.#progressAt)
      if (!this.#offer) {
        stalled = `no offer for a pull in ${waited}; pulling again`
        this.#sendPull()
      } else {
        stalled = `no answer for ${this.#outstanding.size} wanted documents in ${waited}; asking again`
        this.#wantQueue.unshift(...[...this.#outstanding].map(([id, have]) => ({ id, have })))
        this.#outstanding.clear()
        this.#progressAt = now
        this.#sendWants()
      }
    }
    if (stalled === undefined) return
    const first = this.#stalled === undefined || !busy
    this.#stalled = stalled
    // A batch still being handled is reported once; the status keeps counting.
    if (first) this.onStall(stalled)
    this.onStatus(this.status())
  }

  #send(message: ControlMessage): boolean {
    if (this.#closed) return false
    try {
      this.link.send(message)
      return true
    } catch {
      // The connection is going away; the transport reports the disconnect.
      return false
    }
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
}

/** A message as a status says what it is handling. */
function describe(message: ControlMessage): string {
  if (message.t === "docs") return `a batch of ${message.docs.length} documents`
  if (message.t === "offer") return `an offer of ${message.entries.length} entries`
  return `a ${message.t} message`
}
