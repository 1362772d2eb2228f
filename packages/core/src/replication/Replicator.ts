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
import type { DocumentId, Message, PeerId, Repo, StorageAdapterInterface } from "@automerge/automerge-repo"
import { fixedKeyRefusal, fixedKeyWritten } from "../document/envelope.js"
import { linksOf, notHeld, revokedReason, unvouchedReason } from "../database/ingest.js"
import { makeVouch, packVouches, unvouched, type ChangeLinks, type CheckedVouch } from "../identity/vouch.js"
import { changeChunks, changesIn, READ_ONLY_ACTOR } from "../database/StoredChunks.js"
import { isVisible, type CatalogEntry } from "../catalog/Catalog.js"
import type { Database } from "../database/Database.js"
import type { Replica } from "../database/Replica.js"
import { TimeoutError } from "../errors.js"
import { Emitter } from "../helpers/Emitter.js"
import type { InboundVerdict } from "../network/CairnNetworkAdapter.js"
import { CheckpointStore } from "./CheckpointStore.js"
import { PeerSession, type PeerLink, type PeerStatus } from "./PeerSession.js"
import { compareDefinitions, newerDefinitions, type SchemaMismatch } from "./definitions.js"
import {
  PROTOCOL_VERSION,
  malformed,
  type ControlMessage,
  type Grants,
  type PresenceMessage,
  type ReplicationInfo,
  type TypeSelection,
} from "./protocol.js"
import type { LinkedPeer } from "../presence/Presence.js"
import { MAX_EPHEMERAL_BYTES } from "../presence/DocumentChannel.js"

type ShareConfig = NonNullable<ConstructorParameters<typeof Repo>[0]>["shareConfig"] & {}

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
  /** A peer's session started (presence links it). */
  linked: LinkedPeer
  /** A peer's session ended. */
  unlinked: { peerId: string }
  /** A presence message arrived from a connected peer (well-formed; Presence checks its signature). */
  presence: { peerId: string; message: PresenceMessage }
  /** A peer's definitions of types synced with it cannot live beside ours (sent at connect; see replication/definitions.ts). */
  incompatible: { peerId: string; machineId: string; mismatches: SchemaMismatch[] }
}

const NOTIFY_DELAY_MS = 15
/**
 * A change to a document the app watches reaches connected peers by
 * automerge-repo's live sync, keystroke by keystroke; the batched pull is
 * only its safety net, so peers are told of it this much later. Told at once,
 * they pulled many keystrokes a second time (served, sent and ingested
 * twice), and with two peers typing 200 keys a second between them the
 * keystrokes queued behind that work: W7's median keystroke to the other
 * peer, one run each side by side on a loaded machine, 269 ms told at once
 * against 31 ms told late. By the time the late pull runs, the peer has the
 * changes and wants nothing.
 */
const LIVE_NOTIFY_DELAY_MS = 500
/** How often whenSynced asks its `problem` again. */
const PROBLEM_CHECK_MS = 100

/** The automerge-repo message kinds a peer may send about a document; every other kind is dropped. */
const DOCUMENT_MESSAGES = new Set(["sync", "request", "ephemeral", "doc-unavailable"])

export class Replicator extends Emitter<ReplicatorEvents> {
  readonly #sessions = new Map<string, PeerSession>()
  readonly #checkpoints: CheckpointStore
  readonly wants: TypeSelection
  readonly relay: boolean
  #notifyTimer: ReturnType<typeof setTimeout> | undefined
  #pendingNotify = new Set<string>()
  #liveNotifyTimer: ReturnType<typeof setTimeout> | undefined
  #pendingLiveNotify = new Set<string>()
  #stopListening: () => void
  readonly #db: Database
  readonly #replica: Replica

  constructor(
    db: Database,
    private readonly options: ReplicatorOptions,
  ) {
    super()
    this.#db = db
    this.#replica = db.replica
    this.wants = options.relay ? "*" : options.wants
    this.relay = options.relay ?? false
    this.#checkpoints = new CheckpointStore(options.storage)
    const replica = this.#replica
    const stopChanges = replica.on("change", ({ entry }) => this.#changed(entry))
    const stopWatches = replica.on("watch", () => db.repo.shareConfigChanged())
    const stopDamage = replica.on("damaged", damage => {
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
      machineId: this.#db.machine.machineId,
      ...(this.#db.machine.name ? { name: this.#db.machine.name } : {}),
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
      const entry = this.#replica.catalog.get(documentId)
      const session = this.#sessions.get(peerId)
      return !!session && isVisible(entry, { includeDeleted: true }) && session.sends(entry.type)
    }
    return {
      announce: async (peerId, documentId) => allowed(peerId, documentId) && this.#replica.isWatched(documentId!),
      access: async (peerId, documentId) => {
        if (!allowed(peerId, documentId)) return false
        // automerge-repo loads a document that a peer syncs live by itself; it must reach the store too.
        this.#replica.track(documentId!)
        return true
      },
    }
  }

  /** A peer finished its handshake: start syncing with it, with the grants its connection was admitted with. */
  connected(link: PeerLink): void {
    this.#sessions.get(link.peerId)?.close()
    const session = new PeerSession({
      link,
      grants: link.grants ?? { read: "*", write: "*" },
      replica: this.#replica,
      wants: this.wants,
      checkpoints: this.#checkpoints,
      settings: { batchSize: this.options.batchSize ?? 250, stallMs: this.options.stallTimeoutMs ?? 30_000 },
    })
    session.on("status", status => this.emit("status", status))
    session.on("denied", ({ ids, reason }) => this.emit("denied", { peerId: link.peerId, ids, reason }))
    session.on("refused", ({ ids, reason }) =>
      this.options.onProtocolError?.(link.peerId, `refused changes to ${ids.join(", ")}: ${reason}`),
    )
    session.on("stalled", ({ reason }) => {
      this.options.onStall?.(link.peerId, reason)
      this.emit("stalled", { peerId: link.peerId, reason })
    })
    this.#sessions.set(link.peerId, session)
    this.#db.repo.shareConfigChanged()
    // Before the first pull: the peer has read them by the time it answers anything of ours.
    const defs = this.#db
      .definitions()
      .filter(definition => session.sends(definition.name) || session.accepts(definition.name))
      .map(definition => definition.toJSON())
    if (defs.length > 0) link.send({ t: "definitions", defs })
    session.start()
    session.fetch(this.#replica.damaged())
    this.emit("linked", {
      peerId: link.peerId,
      machineId: link.info.machineId,
      types: syncedTypes(link.info.wants, link.grants?.read ?? "*"),
      ...(link.transport ? { transport: link.transport } : {}),
      mayRead: type => session.sends(type),
      send: message => link.send(message),
    })
  }

  /**
   * A peer went away. With `connectionId`, only if its session is still that
   * connection's: a replaced connection closing late must not end the
   * session of the one that took its place.
   */
  disconnected(peerId: string, connectionId?: number): void {
    const session = this.#sessions.get(peerId)
    if (!session || (connectionId !== undefined && session.connectionId !== connectionId)) return
    // Removed first: the status the session gives as it closes must find the sessions left (see whenSynced).
    this.#sessions.delete(peerId)
    session.close()
    this.emit("unlinked", { peerId })
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
    if ((message as ControlMessage).t === "presence") return this.emit("presence", { peerId, message: message as PresenceMessage })
    if ((message as ControlMessage).t === "definitions") return this.#compareDefinitions(session, (message as { defs: unknown[] }).defs)
    // At once, not in a lane: the automerge-repo message these vouches are for is the next frame, and the gate
    // takes them as it arrives (admitRepoMessage).
    if ((message as ControlMessage).t === "vouches") {
      const { id, vouches } = message as { id: string; vouches: Uint8Array }
      return session.noteVouches(id, vouches)
    }
    session.receive(message as ControlMessage).catch(error => this.options.onProtocolError?.(peerId, String(error)))
  }

  /** A peer's definitions arrived (at connect): compare them with ours, and say where they cannot live together. */
  #compareDefinitions(session: PeerSession, defs: unknown[]): void {
    // Only types the peer may know of here: a definition is no way to learn that another type exists.
    const local = (type: string) => (session.sends(type) || session.accepts(type) ? this.#db.definition(type) : undefined)
    const { mismatches, problems } = compareDefinitions(local, defs)
    for (const problem of problems) this.options.onProtocolError?.(session.peerId, problem)
    // A newer version with a lens back to ours lets this peer read and write that version's documents. Only from a peer
    // that may write the type: how its documents read here is something a reader of the type has no say in.
    const newer = newerDefinitions(defs, type => (session.accepts(type) ? this.#db.definition(type) : undefined))
    for (const definition of newer) {
      this.#db
        .learnNewer(definition)
        .catch(error => this.options.onProtocolError?.(session.peerId, `definitions: ${(error as Error).message}`))
    }
    session.noteSchemas(mismatches)
    if (mismatches.length > 0) {
      const { machineId } = session.status()
      this.emit("incompatible", { peerId: session.peerId, machineId, mismatches })
    }
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
  admitRepoMessage(peerId: string, message: Message): InboundVerdict | Promise<InboundVerdict> {
    const session = this.#sessions.get(peerId)
    if (!session || !DOCUMENT_MESSAGES.has(message.type)) return "drop"
    const documentId = (message as { documentId?: string }).documentId
    const entry = documentId === undefined ? undefined : this.#replica.catalog.get(documentId)
    // Only a request for the document is answered: answering a `doc-unavailable` with another could go back and forth forever.
    if (!isVisible(entry, { includeDeleted: true }) || !session.sends(entry.type))
      return message.type === "sync" || message.type === "request" ? "unavailable" : "drop"
    if (message.type === "ephemeral") {
      const data = (message as { data?: Uint8Array }).data
      return data instanceof Uint8Array && data.length <= MAX_EPHEMERAL_BYTES ? "pass" : "drop"
    }
    if (message.type !== "sync" && message.type !== "request") return "pass"
    // Taken now, whatever happens next: they were sent for this message, not the next one.
    const vouches = session.takeVouches(entry.id)
    let changes: Uint8Array[]
    try {
      changes = A.decodeSyncMessage((message as { data: Uint8Array }).data).changes
    } catch {
      return "drop"
    }
    if (changes.length === 0) return "pass"
    if (!session.accepts(entry.type)) {
      session.deny([entry.id], `this peer may not write documents of type ${entry.type} here`)
      return "drop"
    }
    // A writer of the type may change the data, never what was fixed at creation (its type above all): refused here,
    // the document stays as it was; let through, it would be quarantined on arrival and lost to this peer's apps.
    let decoded: Uint8Array[]
    try {
      decoded = this.#changesOf(entry.id, changes)
    } catch {
      return "drop"
    }
    const fixed = fixedKeyWritten(decoded)
    if (fixed !== undefined) {
      session.deny([entry.id], fixedKeyRefusal(fixed))
      return "drop"
    }
    return this.#vouchedFor(session, entry.id, decoded, vouches)
  }

  /**
   * Every change of a message that is new here must be vouched for by the machine it names (identity/vouch.ts),
   * with the vouches the peer sent just before it: a peer passing on a change cannot say another machine made it.
   * Refused, the peer is told why and it is reported here; passed, the vouches are kept with the document.
   */
  async #vouchedFor(session: PeerSession, id: string, changes: Uint8Array[], arriving: Promise<CheckedVouch[]>): Promise<InboundVerdict> {
    let links: ChangeLinks[]
    try {
      links = linksOf(changes)
    } catch {
      return "drop"
    }
    const handle = this.#db.repo.handles[id as DocumentId]
    if (handle?.isReady()) links = notHeld(handle.doc() as A.Doc<unknown>, links)
    const vouches = await arriving
    if (links.length === 0) return "pass"
    const left = unvouched(links, vouches)
    const reason = revokedReason(this.#replica.store, links) ?? (left.length > 0 ? unvouchedReason(left) : undefined)
    if (reason !== undefined) {
      session.deny([id], reason)
      this.options.onProtocolError?.(session.peerId, `refused changes to ${id}: ${reason}`)
      return "drop"
    }
    const named = new Set(links.map(change => change.hash))
    this.#replica.store.vouches.accept(
      id,
      vouches.filter(vouch => named.has(vouch.hash)).map(vouch => vouch.vouch),
    )
    return "pass"
  }

  /**
   * What to send before an automerge-repo message to a peer: for a sync message carrying changes, the vouches for
   * them (Replica.vouchesFor), which the peer's gate asks for (admitRepoMessage). Undefined for any other.
   */
  outbound(peerId: string, message: Message): (() => Promise<ControlMessage | undefined>) | undefined {
    if ((message.type !== "sync" && message.type !== "request") || !this.#sessions.has(peerId)) return undefined
    const id = (message as { documentId?: string }).documentId
    if (id === undefined) return undefined
    // The vouches held now, as the message's changes were read: by the time it leaves, one naming a change in it
    // may have given way to a newer one that does not (see database/vouches.ts).
    const held = this.#replica.vouchesHeld(id)
    // And the heads it was made at: a whole document is vouched for over them (the repo makes a message from the
    // document as it is, and sends it at once).
    const handle = this.#db.repo.handles[id as DocumentId]
    const heads = handle?.isReady() ? A.getHeads(handle.doc() as A.Doc<unknown>) : undefined
    // The rest is worked out when the message's turn to leave comes, not now: a peer asking for a large document
    // forty times had forty of them decoded at once here.
    return async () => {
      let changes: Uint8Array[]
      try {
        changes = A.decodeSyncMessage((message as { data: Uint8Array }).data).changes
      } catch {
        return undefined
      }
      if (changes.length === 0) return undefined
      // Changes (one by one, or several as a bundle: what live sync of a document being typed into sends) are read
      // for their hashes and vouched for exactly; a whole document goes with every vouch the document has.
      const links = linksOfMessage(changes)
      const vouches = await this.#replica.vouchesFor(id, links, held)
      if (!links && heads) vouches.push(...(await Promise.all(heads.map(head => makeVouch(this.#db.machine, id, head)))))
      return vouches.length > 0 ? { t: "vouches", id, vouches: packVouches(vouches) } : undefined
    }
  }

  /**
   * The changes of a sync message, one encoded change each. A message's changes are not always one
   * change each: Automerge runs several together, or sends a whole document; read as single changes they failed to
   * decode and every such message was dropped, so a document being typed into reached the other peer only by the
   * batched pull, hundreds of milliseconds later (W7). Anything else is checked on a copy of the document here.
   */
  #changesOf(id: string, changes: Uint8Array[]): Uint8Array[] {
    const decoded: Uint8Array[] = []
    for (const bytes of changes) {
      const split = changesIn(bytes)
      if (split) {
        decoded.push(...split)
        continue
      }
      const handle = this.#db.repo.handles[id as DocumentId]
      if (!handle?.isReady()) throw new Error("changes that cannot be checked without the document")
      const current = handle.doc() as A.Doc<unknown>
      const applied = A.loadIncremental(A.clone(current, { actor: READ_ONLY_ACTOR }), bytes)
      decoded.push(...A.getChangesSince(applied, A.getHeads(current)))
    }
    return decoded
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
  whenSynced(peerId?: string, timeoutMs = 30_000, problem?: () => string | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const sessions = () => (peerId ? [this.#sessions.get(peerId)].filter(s => s !== undefined) : [...this.#sessions.values()])
      const finish = (error?: Error) => {
        stopStatus()
        clearTimeout(deadline)
        clearInterval(recheck)
        if (error) reject(error)
        else resolve()
      }
      const check = () => {
        const reason = problem?.()
        if (reason) return finish(new Error(reason))
        const current = sessions()
        if (current.length > 0 && current.every(s => s.inSync())) finish()
      }
      // Every change of a session's sync state comes with a status event.
      const stopStatus = this.on("status", check)
      const deadline = setTimeout(() => {
        const stalls = sessions()
          .map(s => s.status())
          .filter(status => status.stalled)
        finish(
          new TimeoutError(
            `timed out waiting for sync${stalls.map(status => `; pull from ${status.name ?? status.machineId} stalled: ${status.stalled}`).join("")}`,
          ),
        )
      }, timeoutMs)
      // A problem comes from outside replication (a connection refused, for one), which sends no event here.
      const recheck = problem ? setInterval(check, PROBLEM_CHECK_MS) : undefined
      check()
    })
  }

  /** Stop: forget every session and listener. */
  close(): void {
    this.#stopListening()
    clearTimeout(this.#notifyTimer)
    clearTimeout(this.#liveNotifyTimer)
    for (const session of this.#sessions.values()) session.close()
    this.#sessions.clear()
  }

  /** The catalog changed: tell peers that may read that type to pull (debounced, batched; later for a watched document). */
  #changed(entry: CatalogEntry): void {
    const live = !entry.purged && this.#replica.isWatched(entry.id)
    for (const session of this.#sessions.values()) {
      if (session.touched(entry)) (live ? this.#pendingLiveNotify : this.#pendingNotify).add(session.peerId)
    }
    if (this.#pendingNotify.size > 0 && !this.#notifyTimer)
      this.#notifyTimer = setTimeout(() => {
        this.#notifyTimer = undefined
        this.#notifyPending(this.#pendingNotify)
      }, NOTIFY_DELAY_MS)
    if (this.#pendingLiveNotify.size > 0 && !this.#liveNotifyTimer)
      this.#liveNotifyTimer = setTimeout(() => {
        this.#liveNotifyTimer = undefined
        this.#notifyPending(this.#pendingLiveNotify)
      }, LIVE_NOTIFY_DELAY_MS)
  }

  #notifyPending(peers: Set<string>): void {
    for (const peerId of peers) this.#sessions.get(peerId)?.notify()
    peers.clear()
  }
}

export type { Grants, PeerLink, PeerStatus }

/** The links of a sync message's changes, each given as changes or as a bundle of them; undefined for anything else. */
function linksOfMessage(entries: Uint8Array[]): ChangeLinks[] | undefined {
  const links: ChangeLinks[] = []
  for (const bytes of entries) {
    const chunks = changeChunks(bytes)
    if (chunks) {
      links.push(...linksOf(chunks))
      continue
    }
    try {
      for (const { hash, actor, deps } of A.readBundle(bytes).changes) links.push({ hash: hash!, actor, deps })
    } catch {
      return undefined
    }
  }
  return links
}

/** The types a peer that wants `wants` and may read `read` gets from here: "*" for every type. */
function syncedTypes(wants: TypeSelection, read: TypeSelection): string[] {
  if (wants === "*") return read === "*" ? ["*"] : [...read]
  return read === "*" ? [...wants] : wants.filter(type => read.includes(type))
}
