/**
 * Replication with one connected peer: serving its pulls (ServingLane) and
 * pulling from it (PullingLane). Messages from one peer are handled in
 * order, in those two lanes: serving (pull, want) and pulling (the rest), so
 * a batch we are slow to ingest never holds up what we send the peer, nor
 * the other way round. The session keeps what both share (the rules of what
 * may go which way, what the peer said it holds) and whether the two peers
 * are in sync, and tells its owner through events.
 */
import type { CatalogEntry } from "../catalog/Catalog.js"
import { headsKey } from "../document/heads.js"
import { Emitter } from "../helpers/Emitter.js"
import type { CheckpointStore } from "./CheckpointStore.js"
import type { LaneContext, PeerLink, SessionReplica, SessionSettings } from "./LaneContext.js"
import type { SchemaMismatch } from "./definitions.js"
import { selects, type ControlMessage, type Grants, type ReplicationInfo, type TypeSelection } from "./protocol.js"
import { PullingLane } from "./PullingLane.js"
import { LruCache } from "../helpers/LruCache.js"
import { checkVouches, unpackVouches, type CheckedVouch } from "../identity/vouch.js"

/** Documents whose vouches from the peer wait for its message about them. */
const ARRIVING_DOCUMENTS = 1024
import { ServingLane } from "./ServingLane.js"

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
  /** Types the peer defines in a way this peer's definitions cannot live beside (see replication/definitions.ts). */
  schemas?: SchemaMismatch[]
}

export interface PeerSessionOptions {
  link: PeerLink
  /** What the peer may read and write here. */
  grants: Grants
  /** The local side of replication. */
  replica: SessionReplica
  /** The types this peer keeps. */
  wants: TypeSelection
  checkpoints: CheckpointStore
  settings: SessionSettings
}

export interface PeerSessionEvents extends Record<string, unknown> {
  /** The session's status changed (see `status`). */
  status: PeerStatus
  /** The peer refused our changes to these documents. */
  denied: { ids: string[]; reason: string }
  /** A pull from the peer made no progress for the stall timeout, or failed; `reason` says what it waits for. */
  stalled: { reason: string }
  /** We refused documents the peer sent (a forged or unsigned change, a fixed key rewritten), and told it why. */
  refused: { ids: string[]; reason: string }
}

export class PeerSession extends Emitter<PeerSessionEvents> {
  readonly #lanes = { serve: Promise.resolve(), pull: Promise.resolve() }
  readonly #link: PeerLink
  readonly #grants: Grants
  readonly #wants: TypeSelection
  readonly #replica: SessionReplica
  readonly #serving: ServingLane
  readonly #pulling: PullingLane
  /** Documents the peer said it holds (see LaneContext.peerHas). */
  readonly #peerHas: Map<string, string>
  #closed = false
  /** Entries the peer sent us changed here during our pull from it: it is told to pull when that pull is over (see touched). */
  #echo = false
  #schemas: SchemaMismatch[] = []
  /** Vouches the peer sent for its next automerge-repo message about a document, being checked (see Replicator.admitRepoMessage). */
  readonly #arriving = new LruCache<string, Promise<CheckedVouch[]>>(ARRIVING_DOCUMENTS)
  #remotePulledSeq = -1
  #relevantSeq = 0

  constructor(options: PeerSessionOptions) {
    super()
    this.#link = options.link
    this.#grants = options.grants
    this.#wants = options.wants
    this.#replica = options.replica
    const context: LaneContext = {
      ...options,
      sends: type => this.sends(type),
      accepts: type => this.accepts(type),
      hides: id => this.#hides(id),
      send: message => this.#send(message),
      closed: () => this.#closed,
      peerHas: new Map(),
    }
    this.#serving = new ServingLane(context)
    this.#pulling = new PullingLane(context, {
      changed: () => this.#changed(),
      stalled: reason => this.emit("stalled", { reason }),
      refused: (ids, reason) => this.emit("refused", { ids, reason }),
      finished: () => this.#echo && this.notify(),
      echo: () => this.#echoed(),
    })
    this.#peerHas = context.peerHas
    // `sends` asked once a type, not once an entry: asked for each of 10,000 entries it took about 6 ms (2 to 15) of a
    // fresh process, between the welcome and the session's first pull.
    const sent = new Map<string, boolean>()
    for (const entry of this.#replica.catalog.entries()) {
      let sends = sent.get(entry.type)
      if (sends === undefined) sent.set(entry.type, (sends = this.sends(entry.type)))
      if (sends) this.#relevantSeq = Math.max(this.#relevantSeq, entry.seq ?? 0)
    }
  }

  get peerId(): string {
    return this.#link.peerId
  }

  get connectionId(): number | undefined {
    return this.#link.connectionId
  }

  /** May this peer receive documents of `type` from us? */
  sends(type: string): boolean {
    return selects(this.#link.info.wants, type) && selects(this.#grants.read, type) && selects(this.#wants, type)
  }

  /** Do we take documents of `type` from this peer? */
  accepts(type: string): boolean {
    return selects(this.#wants, type) && selects(this.#grants.write, type)
  }

  /**
   * May the peer learn that a document of `type` exists here? Not when it
   * may neither read nor write the type: to it, such a document is one we
   * do not have, and every answer it gets about it says so.
   */
  #mayKnow(type: string): boolean {
    return selects(this.#grants.read, type) || selects(this.#grants.write, type)
  }

  /** We hold this id, and the peer may not know it. */
  #hides(id: string): boolean {
    const entry = this.#replica.catalog.get(id)
    return entry !== undefined && !this.#mayKnow(entry.type)
  }

  start(): void {
    this.#pulling.start()
  }

  /** The peer sent vouches for its next message about document `id`: their signatures are checked from now. */
  noteVouches(id: string, vouches: Uint8Array): void {
    const before = this.#arriving.get(id)
    const checking = checkVouches(id, unpackVouches(vouches) ?? [])
    this.#arriving.set(id, before ? Promise.all([before, checking]).then(([a, b]) => [...a, ...b]) : checking)
  }

  /** The vouches the peer sent for a document since it was last asked (checked: the valid ones). */
  takeVouches(id: string): Promise<CheckedVouch[]> {
    return this.#arriving.take(id) ?? Promise.resolve([])
  }

  /** The peer's definitions that ours cannot live beside, as found when it sent them. */
  noteSchemas(mismatches: SchemaMismatch[]): void {
    this.#schemas = mismatches
    this.#changed()
  }

  close(): void {
    this.#closed = true
    this.#pulling.stop()
    this.#changed()
  }

  /** Tell the peer we refused its changes to these documents, and why. */
  deny(ids: string[], reason: string): void {
    this.#send({ t: "denied", ids, reason })
  }

  /** Ask the peer for documents found damaged here (see PullingLane.fetch). */
  fetch(damaged: { id: string; type: string }[]): void {
    this.#pulling.fetch(damaged)
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
    if (entry.purged || this.#peerHas.get(entry.id) !== headsKey(entry.heads) || !this.#pulling.pulling) return true
    this.#echo = true
    return false
  }

  /** At the end of a pull: the echo to tell the peer of instead of telling it to pull (see ServingLane.echo). */
  async #echoed() {
    if (!this.#echo) return undefined
    // Cleared first: an entry touched while this is worked out asks again.
    this.#echo = false
    const echo = await this.#serving.echo()
    if (!echo) this.#echo = true
    return echo
  }

  inSync(): boolean {
    return !this.#closed && this.#pulling.idle && this.#remotePulledSeq >= this.#relevantSeq
  }

  status(): PeerStatus {
    const info = this.#link.info
    const stalled = this.#pulling.stalled
    return {
      peerId: this.#link.peerId,
      machineId: info.machineId,
      ...(info.name ? { name: info.name } : {}),
      wants: info.wants,
      relay: info.relay ?? false,
      state: this.#closed ? "closed" : this.inSync() ? "in-sync" : "syncing",
      lastSyncAt: this.#pulling.lastSyncAt,
      sent: this.#serving.sent,
      received: this.#pulling.received,
      ...(stalled ? { stalled } : {}),
      ...(this.#schemas.length > 0 ? { schemas: this.#schemas.map(m => ({ ...m })) } : {}),
    }
  }

  /** Handle one message (queued behind the previous ones of its lane). */
  receive(message: ControlMessage): Promise<void> {
    const lane = message.t === "pull" || message.t === "want" ? "serve" : "pull"
    const run = this.#lanes[lane].then(async () => {
      if (this.#closed) return
      if (lane === "serve") return this.#handle(message)
      await this.#pulling.handle(describe(message), () => this.#handle(message))
    })
    this.#lanes[lane] = run.catch(() => {})
    return run
  }

  async #handle(message: ControlMessage): Promise<void> {
    switch (message.t) {
      case "pull":
        return this.#serving.serve(message.since, message.id)
      case "want":
        return this.#serving.want(message.docs)
      case "offer":
        return this.#pulling.offer(message)
      case "docs":
        return this.#pulling.docs(message.docs, message.refused ?? [])
      case "pulled":
        this.#remotePulledSeq = Math.max(this.#remotePulledSeq, message.seq)
        this.#changed()
        if (message.echo) await this.#pulling.advance(message.echo)
        return
      case "notify":
        return this.#pulling.pull()
      case "denied":
        this.emit("denied", { ids: message.ids, reason: message.reason })
        return
    }
  }

  #changed(): void {
    this.emit("status", this.status())
  }

  #send(message: ControlMessage): boolean {
    if (this.#closed) return false
    try {
      this.#link.send(message)
      return true
    } catch {
      // The connection is going away; the transport reports the disconnect.
      return false
    }
  }
}

/** A message as a status says what it is handling. */
function describe(message: ControlMessage): string {
  if (message.t === "docs") return `a batch of ${message.docs.length} documents`
  if (message.t === "offer") return `an offer of ${message.entries.length} entries`
  return `a ${message.t} message`
}

export type { PeerLink, SessionReplica, SessionSettings }
