/**
 * The documents behind the database: loading handles from the repo, writing
 * local changes with this session's actor and a millisecond time, checking
 * every change that arrives from a peer, and keeping the catalog in step.
 */
import * as A from "@automerge/automerge"
import type { DocHandle, DocumentId, HandleState, Repo, StorageAdapterInterface } from "@automerge/automerge-repo"
import type { Catalog, CatalogEntry } from "../catalog/Catalog.js"
import { readEnvelope, type Envelope, type EnvelopeCheck } from "../document/envelope.js"
import { containsHeads, headsKey, sortedHeads } from "../document/heads.js"
import { NotFoundError, PurgedError, QuarantinedError } from "../errors.js"
import type { TypeDefinition } from "../schema/TypeDefinition.js"
import { Emitter } from "../helpers/Emitter.js"
import { LruCache } from "../helpers/LruCache.js"
import { Turns } from "../helpers/Turns.js"
import { DamagedDocumentError, DamagedDocuments, type DamagedDocument } from "./DamagedDocuments.js"
import { ChunkStore } from "./ChunkStore.js"
import { loadDocument, READ_ONLY_ACTOR } from "./StoredChunks.js"
import { creationCheck, localEntry, remoteEntry, remoteState, type RemoteState } from "./entries.js"
import { isAtomicStorage } from "../storage/AtomicStorage.js"
import { machineIdOfActor } from "../identity/actor.js"
import type { MachineIdentity } from "../identity/Machine.js"
import { makeVouch } from "../identity/vouch.js"
import { replaceOwn, VouchBook } from "./vouches.js"

export type Origin = "local" | "remote"

/** Handle states a load ends in, found or not. */
const SETTLED: HandleState[] = ["ready", "requesting", "unavailable", "deleted", "unloaded"]

/** Documents kept loaded for reading without a repo handle (most recently read). */
const READ_CACHE_SIZE = 2000

export interface StoreEvents extends Record<string, unknown> {
  /** A document changed (created, edited, deleted, purged), here or on a peer. */
  change: { id: string; type: string; origin: Origin; entry: CatalogEntry }
  /** A document was refused and will not be shown; `reason` says why. */
  quarantine: { id: string; type: string; reason: string }
  /** A document's stored copy was found damaged; peers are asked for it again. */
  damaged: DamagedDocument
}

export class DocumentStore extends Emitter<StoreEvents> {
  readonly #handles = new Map<string, DocHandle<Envelope>>()
  /** Documents read lately, and new ones by their bytes (loaded when first read: see rememberNew). */
  readonly #readCache = new LruCache<string, { heads: string; doc?: A.Doc<Envelope>; bytes?: Uint8Array; root?: Readonly<Envelope> }>(
    READ_CACHE_SIZE,
  )
  readonly #loading = new Map<string, Promise<DocHandle<Envelope>>>()
  readonly #forked = new WeakSet<DocHandle<Envelope>>()
  readonly #damaged = new DamagedDocuments()
  /** Creation proofs being checked, for documents that arrived by live sync. */
  readonly #checking = new Map<string, Promise<string | undefined>>()
  #applyingLocal = false
  /** Documents whose incoming bytes are this machine's own writes (an app's, through the local socket), by ingests in progress. */
  readonly #ownIngests = new Map<string, number>()
  /** The chunks written behind the repo; undefined without a storage (the repo then holds everything). */
  readonly chunks: ChunkStore | undefined
  /** Other machines' vouches accepted for documents' changes, listed with their next entries (see vouches.ts). */
  readonly vouches: VouchBook
  /** Documents with changes of this machine that no vouch in their entries covers yet (see vouchOwn). */
  readonly #toVouch = new Set<string>()
  /** Documents whose vouches are being signed (see vouchOwn). */
  readonly #vouching = new Map<string, Promise<void>>()

  constructor(
    readonly repo: Repo,
    readonly catalog: Catalog,
    readonly actor: string,
    private readonly definitions: Map<string, TypeDefinition>,
    private readonly storage: StorageAdapterInterface | undefined,
    /** This machine: it vouches for its changes (see vouchOwn). */
    private readonly machine: MachineIdentity,
  ) {
    super()
    this.vouches = new VouchBook()
    this.chunks = storage && new ChunkStore(storage, (id, reason) => this.noteDamaged(id, reason), isAtomicStorage(storage))
  }

  /**
   * The document's handle if it is in memory and ready: one the store holds,
   * or one the repo loaded without the store attaching it (a peer's live sync
   * made the repo load the document), which is attached now, after waiting
   * for a load in progress, so an ingest updates that copy instead of writing
   * behind it.
   */
  async readyHandle(id: string): Promise<DocHandle<Envelope> | undefined> {
    const held = this.#handles.get(id)
    if (held) return held.isReady() ? held : undefined
    const handle = ((await this.#loading.get(id)?.catch(() => undefined)) ?? this.repo.handles[id as DocumentId]) as
      | DocHandle<Envelope>
      | undefined
    if (!handle) return undefined
    if (handle.inState(["loading"])) await handle.whenReady(SETTLED).catch(() => {})
    if (!handle.isReady()) return undefined
    this.#attach(handle)
    return handle
  }

  /**
   * A handle loaded meanwhile, behind a write made without one (an ingest, a
   * large transaction): ready, it is attached and its state (the newest) is
   * what counts, returned; still loading, `apply` runs on it once it is ready.
   */
  lateHandle(id: string, apply: (handle: DocHandle<Envelope>) => void): DocHandle<Envelope> | undefined {
    const late = (this.#handles.get(id) ?? this.repo.handles[id as DocumentId]) as DocHandle<Envelope> | undefined
    if (!late) return undefined
    if (late.isReady()) {
      this.#attach(late)
      return late
    }
    void late.whenReady(SETTLED).then(
      () => late.isReady() && apply(late),
      () => {},
    )
    return undefined
  }

  /** The exclusive work on each document (see `exclusive`). */
  readonly #turns = new Turns()

  /**
   * Run `work` once no other exclusive work on these documents runs, and keep
   * the next waiting until it is done. Ingests (two peers may send the same
   * document at once) and large transactions read documents from storage and
   * write them back behind the repo; run together, one would write over the
   * other's change.
   */
  exclusive<T>(ids: string[], work: () => Promise<T>): Promise<T> {
    return this.#turns.run(ids, work)
  }

  /**
   * The stored bytes of a document (its readable chunks, concatenated),
   * without loading it into the repo. An unreadable chunk is removed from
   * storage and the document reported damaged (see StoredChunks.ts).
   */
  async readStored(id: string): Promise<Uint8Array | undefined> {
    const loaded = this.#handles.get(id)
    if (loaded?.isReady()) return A.save(loaded.doc())
    return (await this.chunks?.read(id))?.bytes
  }

  /** The cached copy of a document, if its heads are still the catalog's (and it is not in memory as a handle). */
  cached(id: string, entry: CatalogEntry): A.Doc<Envelope> | undefined {
    if (this.#handles.get(id)?.isReady()) return undefined
    const cached = this.#readCache.get(id)
    if (!cached || cached.heads !== headsKey(entry.heads)) return undefined
    cached.doc ??= loadDocument(cached.bytes!)
    return cached.doc
  }

  /**
   * The stored document, checked: damaged chunks dropped (see readStored),
   * and a stored copy that lacks changes the catalog lists (a lost file) is
   * reported damaged and the catalog set to what is really there, so the next
   * sync fetches the rest. Undefined when nothing readable is stored.
   */
  async loadStored(id: string): Promise<A.Doc<Envelope> | undefined> {
    const loaded = this.#handles.get(id)
    if (loaded?.isReady()) return loaded.doc()
    return this.#loadFromStorage(id, READ_ONLY_ACTOR)
  }

  /** A document's stored state as a copy of its own, under this session's actor, for changing it without a handle (see Transaction.ts). Throws as `handle` does. */
  async loadForChange(id: string): Promise<A.Doc<Envelope>> {
    this.#assertWritable(id)
    const doc = await this.#loadFromStorage(id, this.actor as A.ActorId)
    if (!doc) throw new DamagedDocumentError(id, this.#damaged.get(id)?.reason ?? "nothing readable is stored")
    return doc
  }

  async #loadFromStorage(id: string, actor: A.ActorId): Promise<A.Doc<Envelope> | undefined> {
    const listed = this.catalog.get(id)
    const bytes = await this.readStored(id)
    const doc = bytes && loadDocument(bytes, actor)
    // A write that landed while we read (a change, an ingest) is not damage.
    if (this.catalog.get(id) === listed) this.checkAgainstCatalog(id, doc)
    // A dropped chunk may have held nothing the others lack: then the document is whole again.
    if (doc) this.#damaged.settle(id, doc, "storage")
    return doc && A.getHeads(doc).length > 0 ? doc : undefined
  }

  /** A peer sent a document and it brought nothing new: if it was damaged, it is repaired as far as that peer knows. */
  confirmedByPeer(id: string, doc: A.Doc<Envelope>): void {
    this.#damaged.settle(id, doc, "peer")
  }

  /** Documents found damaged here and not yet recovered from a peer. */
  damaged(): DamagedDocument[] {
    return this.#damaged.list()
  }

  /** Record that a document's stored copy is damaged (and tell listeners, once). */
  noteDamaged(id: string, reason: string, missing?: string[]): void {
    const entry = this.catalog.get(id)
    if (entry?.purged) return
    const damage = { id, type: entry?.type ?? "unknown", reason, missing: missing ?? entry?.heads ?? [] }
    if (this.#damaged.note(damage)) this.emit("damaged", damage)
  }

  /** If the catalog lists changes `doc` (what storage holds) lacks, the document is damaged: make the catalog say what is there. */
  checkAgainstCatalog(id: string, doc: A.Doc<Envelope> | undefined): void {
    const entry = this.catalog.get(id)
    if (!entry || entry.purged || entry.heads.length === 0) return
    // Applied, not only held (containsHeads): a change whose dependencies are gone (a lost first chunk) is queued, and counts for nothing.
    if (doc && containsHeads(doc, entry.heads)) {
      // Stored ahead of the catalog: a write stopped between a document's chunk and its catalog record (a crash, a
      // close during an ingest). Catch the catalog up, or the changes would never be offered to peers.
      if (headsKey(A.getHeads(doc)) !== headsKey(entry.heads)) this.noteRemote(id, doc)
      return
    }
    this.noteDamaged(
      id,
      doc && A.getHeads(doc).length > 0 ? "changes the catalog lists are missing from storage" : "nothing readable is left in storage",
      entry.heads,
    )
    this.catalog.set({ ...entry, heads: doc ? sortedHeads(doc) : [] })
  }

  /** The handle of a document in the catalog, loading it if needed. Throws NotFound/Purged/Quarantined. */
  async handle(id: string): Promise<DocHandle<Envelope>> {
    this.#assertWritable(id)
    return this.load(id).catch(error => {
      // Purged while it loaded (a peer's tombstone landed): say so, not the repo's "unavailable".
      throw this.catalog.get(id)?.purged ? new PurgedError(id) : error
    })
  }

  /** The entry of a document the app may read (throws NotFound/Purged/Quarantined). */
  #readable(id: string): CatalogEntry {
    const entry = this.catalog.get(id)
    if (!entry) throw new NotFoundError(id)
    if (entry.purged) throw new PurgedError(id)
    if (entry.quarantined) throw new QuarantinedError(id, entry.quarantined)
    return entry
  }

  #assertWritable(id: string): void {
    const entry = this.#readable(id)
    const damage = this.#damaged.get(id)
    if (damage && entry.heads.length === 0) throw new DamagedDocumentError(id, damage.reason)
  }

  /**
   * The current state of a document, for reading. A document in memory is
   * read from its handle; one that is not is loaded straight from storage
   * with Automerge (no repo handle: listing 1,000 documents costs about what
   * `Automerge.load` costs, and they are not announced to peers) and kept in
   * a small cache, checked against the catalog's heads on every read.
   */
  async read(id: string): Promise<A.Doc<Envelope>> {
    const entry = this.#readable(id)
    const handle = this.#handles.get(id)
    if (handle?.isReady()) return handle.doc()
    const cached = this.cached(id, entry)
    if (cached) return cached
    if (!this.storage) return (await this.load(id)).doc()
    const doc = await this.loadStored(id)
    if (!doc) throw new DamagedDocumentError(id, this.#damaged.get(id)?.reason ?? "nothing readable is stored")
    this.remember(id, doc)
    return doc
  }

  /**
   * Another process committed these chunks of a document (Replica.applyCommitted): its cached copy takes them. It
   * is used again once the catalog lists the heads they bring (`cached` compares them), which may come in a later
   * commit than the chunks; a copy that missed a chunk never matches, and the next read loads from storage.
   */
  advanceCached(id: string, chunks: readonly Uint8Array[]): void {
    if (this.#handles.get(id)?.isReady()) return
    const cached = this.#readCache.get(id)
    if (!cached) return
    // A copy of its own: the cached one may be in a reader's hands, and loading into it would outdate it there.
    let doc = cached.doc ? A.clone(cached.doc, { actor: READ_ONLY_ACTOR }) : loadDocument(cached.bytes!)
    for (const chunk of chunks) doc = A.loadIncremental(doc, chunk)
    this.remember(id, doc)
  }

  /** Keep a document just read or ingested for the next read (see `cached`). */
  remember(id: string, doc: A.Doc<Envelope>): void {
    this.#readCache.set(id, { heads: headsKey(A.getHeads(doc)), doc })
  }

  /**
   * Keep a new document by its bytes, as a read would keep it, without loading it now (loading costs more than
   * creating), and its root when it was read without Automerge (see `view`).
   */
  rememberNew(id: string, bytes: Uint8Array, heads: string[], root?: Readonly<Envelope>): void {
    this.#readCache.set(id, { heads: headsKey(heads), bytes, root })
  }

  /**
   * A document's current values, for reading them only (materialize), never for Automerge's functions: a new
   * document read from its first change at ingest (ingest.ts) is given as that root. A page listing what an initial
   * sync brings read each one again, and loading it with Automerge was most of the page's time for a document.
   */
  async view(id: string): Promise<Readonly<Envelope>> {
    const entry = this.#readable(id)
    const cached = this.#handles.get(id)?.isReady() ? undefined : this.#readCache.get(id)
    if (cached?.root && cached.heads === headsKey(entry.heads)) return cached.root
    return this.read(id)
  }

  /** Load a handle without the catalog checks (for documents arriving from peers). */
  load(id: string): Promise<DocHandle<Envelope>> {
    const ready = this.#handles.get(id)
    if (ready) return Promise.resolve(ready)
    let loading = this.#loading.get(id)
    if (!loading) {
      const checked = this.storage && !this.repo.handles[id as DocumentId] ? this.#readyToFind(id) : Promise.resolve()
      loading = checked
        .then(() => this.repo.find<Envelope>(id as DocumentId))
        .then(handle => {
          this.#attach(handle)
          return handle
        })
        .finally(() => this.#loading.delete(id))
      this.#loading.set(id, loading)
    }
    return loading
  }

  /**
   * Before the repo loads a document from storage: its chunks still waiting
   * for a batch (a document created a moment ago) must be there, or the repo
   * finds nothing and calls it unavailable; a chunk whose batch failed is
   * not, and loading fails with that write's error. Then unreadable chunks
   * are dropped: automerge-repo would fail on them, or silently stop loading
   * at them.
   */
  async #readyToFind(id: string): Promise<void> {
    const pending = this.chunks?.pending
    if (pending?.batched) {
      await pending.drained(id)
      const failed = pending.failure(id)
      if (failed) throw failed.error
    }
    await this.readStored(id)
  }

  /** The handle if it is already in memory. */
  loaded(id: string): DocHandle<Envelope> | undefined {
    return this.#handles.get(id)
  }

  /** Register a handle made here (create) and watch it; the caller lists it (noteLocal). */
  adopt(handle: DocHandle<Envelope>): void {
    this.#forked.add(handle)
    this.#attach(handle, false)
  }

  /** Drop a document's body here (its handle, its stored chunks) and list `entry` for it instead. */
  drop(entry: CatalogEntry): void {
    this.repo.delete(entry.id as DocumentId)
    this.#handles.delete(entry.id)
    this.chunks?.pending.drop(entry.id)
    this.catalog.set(entry)
  }

  /** Apply a purge tombstone (made here, or one that arrived from a peer) and tell listeners. */
  notePurged(tombstone: CatalogEntry, origin: Origin): void {
    this.drop(tombstone)
    this.emit("change", { id: tombstone.id, type: tombstone.type, origin, entry: tombstone })
  }

  /**
   * Another process sharing the storage committed changes to this document
   * (see SequencedStorage.ts): a copy loaded here takes them from storage,
   * and the repo's storage subsystem records the heads it read as saved, so it
   * does not write them again. The catalog follows the committed entry
   * (Replica.applyCommitted), not this handle. Its live peers get the changes
   * from the repo, as any change.
   */
  async followStored(id: string): Promise<void> {
    const handle = (this.#handles.get(id) ?? this.repo.handles[id as DocumentId]) as DocHandle<Envelope> | undefined
    if (!handle?.isReady()) return
    const stored = await this.repo.storageSubsystem?.loadDoc<Envelope>(id as DocumentId)
    if (!stored || !handle.isReady()) return
    this.#applyingLocal = true
    try {
      handle.update(doc => A.merge(doc, stored))
    } finally {
      this.#applyingLocal = false
    }
  }

  /** Before a local change: give the handle this session's actor (see identity/actor.ts). */
  prepareLocal(handle: DocHandle<Envelope>): void {
    if (this.#forked.has(handle)) return
    this.#forked.add(handle)
    if (A.getActorId(handle.doc()) === this.actor) return
    handle.update(doc => A.clone(doc, { actor: this.actor }))
  }

  /** After a local change was made on `handle.doc()`: hand the new state to the repo (which saves and syncs it). */
  publishLocal(handle: DocHandle<Envelope>, next: A.Doc<Envelope> | ((doc: A.Doc<Envelope>) => A.Doc<Envelope>)): void {
    this.#applyingLocal = true
    try {
      handle.update(typeof next === "function" ? next : () => next)
    } finally {
      this.#applyingLocal = false
    }
  }

  /**
   * Whether every local change is written in the group commit's atomic batch
   * (the storage offers one): then a change made on a handle also leaves its
   * chunk here, as a journal entry (see PendingChunks.ts).
   */
  get atomic(): boolean {
    return this.chunks?.pending.batched === true
  }

  /** On an atomic storage, the chunk of a local change published to `handle` (`headsBefore`: the handle's heads before it). */
  journal(id: string, next: A.Doc<Envelope>, headsBefore: A.Heads): void {
    if (this.atomic) this.chunks!.pending.write(id, A.saveSince(next, headsBefore), undefined, true)
  }

  /** Whether documents can be written without a handle (there is a storage to write them to). */
  get writesDetached(): boolean {
    return this.chunks !== undefined
  }

  /**
   * Apply a local change made without a handle (`bytes`, its chunk; `entry`,
   * what the catalog lists after it). A handle loaded meanwhile takes the
   * change; otherwise it is written behind the repo (see PendingChunks.ts).
   */
  writeDetached(id: string, bytes: Uint8Array, entry: CatalogEntry, name?: string): void {
    const late = this.lateHandle(id, handle => this.publishLocal(handle, doc => A.loadIncremental(doc, bytes)))
    if (late) {
      if (this.atomic) this.chunks!.pending.write(id, bytes, undefined, true)
      this.publishLocal(late, doc => A.loadIncremental(doc, bytes))
      this.noteLocal(id, late.doc(), entry.modifiedAt)
      return
    }
    this.chunks!.pending.write(id, bytes, name)
    this.noteEntry(entry)
  }

  /** Resolves when every chunk written behind the repo so far is on disk (see PendingChunks.ts). */
  async pendingWritten(): Promise<void> {
    await this.chunks?.pending.settled()
  }

  /** Record a local change in the catalog and tell listeners. */
  noteLocal(id: string, doc: A.Doc<Envelope>, modifiedAt: number): CatalogEntry {
    return this.noteEntry(this.localEntry(id, doc, modifiedAt))
  }

  /** What the catalog lists for a document after a local change. */
  localEntry(id: string, doc: A.Doc<Envelope>, modifiedAt: number): CatalogEntry {
    return localEntry(id, doc, modifiedAt, this.catalog.get(id), machineIdOfActor(this.actor))
  }

  /**
   * Sign this machine's vouches for the documents it changed since the last call (one over each of a document's
   * heads, which proves every change of this machine under them: identity/vouch.ts), replacing its older ones in
   * their entries. The group commit calls it before it writes the entries, so an entry reaches the disk with the
   * vouch for its change; live sync asks for one before it sends a change (Replica.vouchesFor).
   */
  async vouchOwn(ids: Iterable<string> = this.#toVouch): Promise<void> {
    const asked = [...ids]
    const wanted = asked.filter(id => this.#toVouch.has(id))
    for (const id of wanted) this.#toVouch.delete(id)
    // Those being vouched for already are waited for: until their vouches are in their entries, what is sent of
    // them would go without.
    const running = asked.filter(id => !wanted.includes(id)).map(id => this.#vouching.get(id))
    const started = wanted.map(id => {
      // A failure (the database closing) leaves it to be vouched for by the next call.
      const work = this.#vouchOne(id)
        .catch(() => void this.#toVouch.add(id))
        .finally(() => {
          if (this.#vouching.get(id) === work) this.#vouching.delete(id)
        })
      this.#vouching.set(id, work)
      return work
    })
    await Promise.all([...running, ...started])
  }

  async #vouchOne(id: string): Promise<void> {
    const entry = this.catalog.get(id)
    if (!entry || entry.purged || entry.heads.length === 0) return
    const own = await Promise.all(entry.heads.map(head => makeVouch(this.machine, id, head)))
    const now = this.catalog.get(id)
    // Changed meanwhile (a peer's change merged, or another of ours): these are for heads it no longer has, and
    // the next call vouches over the new ones, which hold this machine's change too.
    if (now !== entry) {
      if (now && !now.purged) this.#toVouch.add(id)
      return
    }
    this.catalog.annotate({ ...entry, vouches: replaceOwn(entry.vouches, own, this.machine.publicKey) })
  }

  /** True when the document has changes of this machine its entry has no vouch for yet. */
  unvouched(id: string): boolean {
    return this.#toVouch.has(id) || this.#vouching.has(id)
  }

  /** List an entry (from localEntry, or one a check released from quarantine) and tell listeners. */
  noteEntry(entry: CatalogEntry, origin: Origin = "local"): CatalogEntry {
    if (origin === "local") this.#toVouch.add(entry.id)
    this.catalog.set(entry)
    this.emit("change", { id: entry.id, type: entry.type, origin, entry })
    return entry
  }

  /**
   * Check a document state that came from a peer (or from storage after a
   * peer wrote it) and record it: a changed or forged type, a bad envelope or
   * data that fails its type's definition quarantines the document.
   */
  noteRemote(id: string, doc: A.Doc<Envelope>, unproven?: string, envelope = readEnvelope(doc)): CatalogEntry {
    return this.noteRemoteState(id, remoteState(doc), unproven, envelope, () => this.#damaged.settle(id, doc, "peer"), doc)
  }

  /**
   * noteRemote for a state read without Automerge (a new document's first change: see ingest.ts), or with its
   * damage settled by `settle`; a caller with no Automerge document asks `isDamaged` first.
   */
  noteRemoteState(
    id: string,
    state: RemoteState,
    unproven: string | undefined,
    envelope: EnvelopeCheck,
    settle = () => {},
    doc?: A.Doc<Envelope>,
  ): CatalogEntry {
    const previous = this.catalog.get(id)
    const vouches = this.vouches.merged(id, previous?.vouches, doc)
    const entry = remoteEntry(id, state, previous, type => this.definitions.get(type), unproven, envelope, vouches)
    this.catalog.set(entry)
    settle()
    if (entry.quarantined && !previous?.quarantined) this.emit("quarantine", { id, type: entry.type, reason: entry.quarantined })
    if (this.#ownIngests.has(id)) this.#toVouch.add(id)
    if (!entry.quarantined) this.emit("change", { id, type: entry.type, origin: this.#ownIngests.has(id) ? "local" : "remote", entry })
    return entry
  }

  /** True while a document's stored copy is known damaged (a peer's copy is then checked against what it lacks). */
  isDamaged(id: string): boolean {
    return this.#damaged.get(id) !== undefined
  }

  /** While the returned function is not called, what arrives for `ids` is this machine's own writes: their changes are "local". */
  ingestingOwn(ids: string[]): () => void {
    for (const id of ids) this.#ownIngests.set(id, (this.#ownIngests.get(id) ?? 0) + 1)
    return () => {
      for (const id of ids) {
        const left = this.#ownIngests.get(id)! - 1
        if (left > 0) this.#ownIngests.set(id, left)
        else this.#ownIngests.delete(id)
      }
    }
  }

  #attach(handle: DocHandle<Envelope>, checkNow = true): void {
    const id = handle.documentId as string
    if (this.#handles.has(id)) return
    this.#handles.set(id, handle)
    // Before listening: these changes are listed already, they are not a peer's.
    for (const chunk of this.chunks?.pending.of(id) ?? []) if (handle.isReady()) handle.update(doc => A.loadIncremental(doc, chunk.data!))
    handle.on("heads-changed", ({ doc }) => {
      // A purge deletes the handle, which empties its document: that is not a change from a peer.
      if (this.#applyingLocal || !handle.isReady()) return
      this.#noteRemoteChecked(id, doc)
    })
    // Changes that reached the repo before we were listening (a peer synced it while it loaded).
    const entry = this.catalog.get(id)
    if (checkNow && handle.isReady()) {
      if (entry && !entry.purged && !this.#turns.busy(id) && !A.hasHeads(handle.doc(), entry.heads))
        this.noteDamaged(id, "changes the catalog lists are missing from storage", entry.heads)
      if (!entry || headsKey(entry.heads) !== headsKey(A.getHeads(handle.doc()))) this.#noteRemoteChecked(id, handle.doc())
    }
  }

  /**
   * noteRemote for a change that came by live sync: a document new here is
   * listed only once its creation proof has been checked (asynchronously;
   * later changes of it are recorded at once).
   */
  #noteRemoteChecked(id: string, doc: A.Doc<Envelope>): void {
    if (this.catalog.get(id)) {
      this.noteRemote(id, doc)
      return
    }
    let check = this.#checking.get(id)
    if (!check) {
      check = creationCheck(id, doc)
      this.#checking.set(id, check)
    }
    void check.then(unproven => {
      this.#checking.delete(id)
      const handle = this.#handles.get(id)
      const latest = handle?.isReady() ? handle.doc() : doc
      if (A.getHeads(latest).length === 0) return
      if (this.catalog.get(id)) this.noteRemote(id, latest)
      else this.noteRemote(id, latest, unproven)
    })
  }
}
