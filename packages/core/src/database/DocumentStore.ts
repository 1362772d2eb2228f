/**
 * The documents behind the database: loading handles from the repo, writing
 * local changes with this session's actor and a millisecond time, checking
 * every change that arrives from a peer, and keeping the catalog in step.
 */
import * as A from "@automerge/automerge"
import type { DocHandle, DocumentId, HandleState, Repo, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import type { Catalog, CatalogEntry } from "../catalog/Catalog.js"
import { modifiedAtOf, readEnvelope, verifyCreation, type Envelope } from "../document/envelope.js"
import { containsHeads } from "../document/heads.js"
import { NotFoundError, PurgedError, QuarantinedError, ValidationError } from "../errors.js"
import { dataFieldOf, type TypeDefinition } from "../schema/TypeDefinition.js"
import { validateStored } from "../schema/values.js"
import { Emitter } from "../helpers/Emitter.js"
import { DamagedDocumentError, DamagedDocuments, type DamagedDocument } from "./DamagedDocuments.js"
import { chunkName, PendingChunks } from "./PendingChunks.js"
import { concatChunks, loadChunks } from "./StoredChunks.js"

export type Origin = "local" | "remote"

/** Handle states a load ends in, found or not. */
const SETTLED: HandleState[] = ["ready", "requesting", "unavailable", "deleted", "unloaded"]

/** Documents kept loaded for reading without a repo handle (most recently read). */
const READ_CACHE_SIZE = 2000
/**
 * An ingest that finds this many chunks stored for a document writes it as
 * one snapshot instead: every batch ingested adds a chunk, and a document
 * edited a thousand times by peers would otherwise be read (and each chunk's
 * checksum checked) as a thousand records on every load.
 */
const COMPACT_CHUNKS = 16
/** Documents of one ingest checked and written together (see ingest). */
const INGEST_GROUP = 50

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
  readonly #readCache = new Map<string, { heads: string; doc: A.Doc<Envelope> }>()
  /** How many chunks each document read or ingested in this session has in storage (see COMPACT_CHUNKS). */
  readonly #chunkCounts = new Map<string, number>()
  readonly #loading = new Map<string, Promise<DocHandle<Envelope>>>()
  readonly #forked = new WeakSet<DocHandle<Envelope>>()
  readonly #damaged = new DamagedDocuments()
  /** Creation proofs being checked, for documents that arrived by live sync. */
  readonly #checking = new Map<string, Promise<string | undefined>>()
  #applyingLocal = false
  readonly #pending: PendingChunks | undefined

  constructor(
    readonly repo: Repo,
    readonly catalog: Catalog,
    readonly actor: string,
    private readonly definitions: Map<string, TypeDefinition>,
    private readonly storage?: StorageAdapterInterface,
  ) {
    super()
    this.#pending = storage && new PendingChunks(storage)
  }

  /**
   * Apply bytes from a peer. A document in memory is updated through its
   * handle (so the repo saves it and live subscribers see it). One that is
   * not is checked from its stored bytes plus the new ones and the new
   * bytes are written straight to storage as one more chunk: the repo loads
   * every chunk of a document, so this is exactly what it would have
   * written, without loading 1,000 handles (and announcing each to every
   * peer) for an initial sync.
   */
  async ingest(docs: { id: string; bytes: Uint8Array }[], acceptType: (type: string) => boolean): Promise<CatalogEntry[]> {
    const entries: CatalogEntry[] = []
    const direct: { id: string; bytes: Uint8Array }[] = []
    for (const item of docs) {
      const handle = this.#handles.get(item.id) ?? (await this.#inRepo(item.id))
      if (handle?.isReady()) {
        handle.update(doc => A.loadIncremental(doc, item.bytes))
        entries.push(this.catalog.get(item.id)!)
      } else {
        direct.push(item)
      }
    }
    // In groups of INGEST_GROUP, each written before the next starts: 250 started at once ran seconds of checks and
    // loads in one go, and nothing else on the event loop (a ping, another peer's batch, the page) ran until all were
    // done. A whole group still reaches the storage together, as one write (one fsync); one at a time would not.
    for (let start = 0; start < direct.length; start += INGEST_GROUP) {
      await Promise.all(direct.slice(start, start + INGEST_GROUP).map(({ id, bytes }) => this.exclusive([id], async () => {
        const listed = this.catalog.get(id)
        // A tombstone wins over bytes asked for before it came (from another peer, or a purge here): never store a purged body again.
        if (listed?.purged) return
        // The copy last read or ingested, when it is still what the catalog lists: a server sends one document to
        // every peer that wants it and ingests each peer's changes to it, and loading it from storage for each
        // costs about ten times a copy in memory.
        // Every COMPACT_CHUNKS ingests it is read from storage all the same, for its chunks to be compacted.
        const cached = listed && (this.#chunkCounts.get(id) ?? 0) < COMPACT_CHUNKS - 1 ? this.#cached(id, listed) : undefined
        const chunks = this.storage && listed && !cached ? await this.#readChunks(id) : undefined
        const stored = cached ? true : chunks?.bytes
        let doc: A.Doc<Envelope>
        if (cached) {
          doc = A.loadIncremental(A.clone(cached, { actor: READ_ONLY_ACTOR }), bytes)
        } else if (listed) {
          doc = A.init<Envelope>()
          if (chunks?.bytes) doc = A.loadIncremental(doc, chunks.bytes)
          if (this.storage && this.catalog.get(id) === listed) this.#checkAgainstCatalog(id, doc)
          doc = A.loadIncremental(doc, bytes)
        } else {
          // New here (an initial sync): A.load builds the document without computing patches, which
          // loadIncremental into an empty document does; measured about a third of ingest's time.
          doc = loadNew(bytes)
        }
        if (A.getHeads(doc).length === 0) return
        const envelope = readEnvelope(doc)
        // A document we did not ask for by its real type is not stored at all (a peer cannot push other types in).
        if (!stored && envelope.ok && !acceptType(envelope.meta.type)) return
        const before = this.catalog.get(id)
        if (before && before.heads.join() === [...A.getHeads(doc)].sort().join()) return
        // A document new here: its creation proof is checked once, now (see document/envelope.ts).
        const unproven = before || !envelope.ok ? undefined : await verifyCreation(id, doc, envelope.meta)
        // Purged while it was read and checked, or while its chunk was written: it stays purged.
        if (this.catalog.get(id)?.purged) return
        if (this.storage && chunks && chunks.keys.length >= COMPACT_CHUNKS) {
          await this.#compactChunks(id, doc, chunks.keys)
        } else if (this.storage) {
          const key = [id, "incremental", chunkName(bytes)]
          await this.storage.save(key, bytes)
          if (this.catalog.get(id)?.purged) return this.storage.remove(key)
          this.#chunkCounts.set(id, (chunks?.keys.length ?? this.#chunkCounts.get(id) ?? 0) + 1)
        } else {
          this.repo.import(A.save(doc), { docId: id as DocumentId })
        }
        // The document may have been loaded meanwhile (a local change, a peer's live sync): then its copy in memory
        // is the newest, and `doc` (built from what was stored before) would set the catalog back.
        const late = (this.#handles.get(id) ?? this.repo.handles[id as DocumentId]) as DocHandle<Envelope> | undefined
        if (late?.isReady()) {
          this.#attach(late)
          late.update(current => A.loadIncremental(current, bytes))
          entries.push(this.catalog.get(id)!)
          return
        }
        entries.push(this.noteRemote(id, doc, unproven, envelope))
        this.#remember(id, doc)
        if (late) void late.whenReady(SETTLED).then(() => late.isReady() && late.update(current => A.loadIncremental(current, bytes)), () => {})
      })))
    }
    return entries
  }

  /**
   * A handle the repo holds without the store having attached it (a peer's
   * live sync made the repo load the document): wait for a load in progress,
   * then attach it, so an ingest updates that copy instead of writing behind it.
   */
  async #inRepo(id: string): Promise<DocHandle<Envelope> | undefined> {
    const handle = ((await this.#loading.get(id)?.catch(() => undefined)) ?? this.repo.handles[id as DocumentId]) as DocHandle<Envelope> | undefined
    if (!handle) return undefined
    if (handle.inState(["loading"])) await handle.whenReady(SETTLED).catch(() => {})
    if (!handle.isReady()) return undefined
    this.#attach(handle)
    return handle
  }

  /** For each document, the turn of the exclusive work on it (see `exclusive`). */
  readonly #turns = new Map<string, Promise<void>>()

  /**
   * Run `work` once no other exclusive work on these documents runs, and keep
   * the next waiting until it is done. Ingests (two peers may send the same
   * document at once) and large transactions read documents from storage and
   * write them back behind the repo; run together, one would write over the
   * other's change.
   */
  exclusive<T>(ids: string[], work: () => Promise<T>): Promise<T> {
    if (ids.length === 0) return work()
    const previous = Promise.all(ids.map(id => this.#turns.get(id)))
    let finish!: () => void
    const turn = new Promise<void>(resolve => (finish = resolve))
    for (const id of ids) this.#turns.set(id, turn)
    return previous.then(work).finally(() => {
      finish()
      for (const id of ids) if (this.#turns.get(id) === turn) this.#turns.delete(id)
    })
  }

  /**
   * The stored bytes of a document (its readable chunks, concatenated),
   * without loading it into the repo. An unreadable chunk is removed from
   * storage and the document reported damaged (see StoredChunks.ts).
   */
  async readStored(id: string): Promise<Uint8Array | undefined> {
    const loaded = this.#handles.get(id)
    if (loaded?.isReady()) return A.save(loaded.doc())
    return (await this.#readChunks(id))?.bytes
  }

  /** The readable chunks of a stored document: their bytes, concatenated, and their keys. */
  async #readChunks(id: string): Promise<{ bytes: Uint8Array | undefined; keys: StorageKey[] } | undefined> {
    if (!this.storage) return undefined
    // Taken before reading storage: a pending chunk that lands meanwhile is then read twice, which loads the same.
    const pending = [...this.#pending!.of(id)]
    const { good, bad } = await loadChunks(this.storage, id)
    this.#chunkCounts.set(id, good.length)
    if (bad.length > 0) {
      await Promise.all(bad.map(key => this.storage!.remove(key)))
      this.noteDamaged(id, `${bad.length} of ${bad.length + good.length} stored chunks were unreadable (torn or corrupted) and were dropped`)
    }
    const all = [...good, ...pending]
    return { bytes: all.length > 0 ? concatChunks(all) : undefined, keys: good.map(chunk => chunk.key) }
  }

  /**
   * Store `doc` as one snapshot in place of the chunks `keys` (see
   * COMPACT_CHUNKS). The snapshot is on disk before any chunk goes, so a
   * crash in between leaves both, which load as the same document.
   */
  async #compactChunks(id: string, doc: A.Doc<Envelope>, keys: StorageKey[]): Promise<void> {
    const bytes = A.save(doc)
    await this.storage!.save([id, "snapshot", chunkName(bytes)], bytes)
    await Promise.all(keys.map(key => this.storage!.remove(key)))
    this.#chunkCounts.set(id, 1)
  }

  /**
   * A document's current state, for replication to read (its changes, its
   * heads): from its handle, the read cache, or storage (then cached). Unlike
   * `read`, it does not refuse purged or quarantined documents: the caller
   * has decided what it may serve.
   */
  async current(id: string): Promise<A.Doc<Envelope> | undefined> {
    const inMemory = this.inMemory(id)
    if (inMemory) return inMemory
    const doc = await this.loadStored(id)
    if (doc) this.#remember(id, doc)
    return doc
  }

  /** `current`, if that needs no read from storage. */
  inMemory(id: string): A.Doc<Envelope> | undefined {
    const handle = this.#handles.get(id)
    if (handle?.isReady()) return handle.doc()
    const entry = this.catalog.get(id)
    return entry && this.#cached(id, entry)
  }

  /** The cached copy of a document, if its heads are still the catalog's (and it is not in memory as a handle). */
  #cached(id: string, entry: CatalogEntry): A.Doc<Envelope> | undefined {
    if (this.#handles.get(id)?.isReady()) return undefined
    const cached = this.#readCache.get(id)
    if (!cached || cached.heads !== entry.heads.join()) return undefined
    this.#readCache.delete(id)
    this.#readCache.set(id, cached)
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
    let doc: A.Doc<Envelope> | undefined
    if (bytes) {
      try {
        doc = A.load<Envelope>(bytes, { actor })
      } catch {
        // Chunks that pass their checksums but do not load together (a change whose dependencies were lost): keep what loads.
        doc = A.loadIncremental(A.init<Envelope>({ actor }), bytes)
      }
    }
    // A write that landed while we read (a change, an ingest) is not damage.
    if (this.catalog.get(id) === listed) this.#checkAgainstCatalog(id, doc)
    // A dropped chunk may have held nothing the others lack: then the document is whole again.
    if (doc) this.#damaged.settle(id, doc, "storage")
    return doc && A.getHeads(doc).length > 0 ? doc : undefined
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
  #checkAgainstCatalog(id: string, doc: A.Doc<Envelope> | undefined): void {
    const entry = this.catalog.get(id)
    if (!entry || entry.purged || entry.heads.length === 0) return
    if (doc && containsHeads(doc, entry.heads)) {
      // Stored ahead of the catalog: a write stopped between a document's chunk and its catalog record (a crash, a
      // close during an ingest). Catch the catalog up, or the changes would never be offered to peers.
      if ([...A.getHeads(doc)].sort().join() !== entry.heads.join()) this.noteRemote(id, doc)
      return
    }
    this.noteDamaged(id, doc && A.getHeads(doc).length > 0 ? "changes the catalog lists are missing from storage" : "nothing readable is left in storage", entry.heads)
    this.catalog.set({ ...entry, heads: doc ? [...A.getHeads(doc)].sort() : [] })
  }

  /** The handle of a document in the catalog, loading it if needed. Throws NotFound/Purged/Quarantined. */
  async handle(id: string): Promise<DocHandle<Envelope>> {
    this.#assertWritable(id)
    return this.load(id).catch(error => {
      // Purged while it loaded (a peer's tombstone landed): say so, not the repo's "unavailable".
      throw this.catalog.get(id)?.purged ? new PurgedError(id) : error
    })
  }

  #assertWritable(id: string): void {
    const entry = this.catalog.get(id)
    if (!entry) throw new NotFoundError(id)
    if (entry.purged) throw new PurgedError(id)
    if (entry.quarantined) throw new QuarantinedError(id, entry.quarantined)
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
    const entry = this.catalog.get(id)
    if (!entry) throw new NotFoundError(id)
    if (entry.purged) throw new PurgedError(id)
    if (entry.quarantined) throw new QuarantinedError(id, entry.quarantined)
    const handle = this.#handles.get(id)
    if (handle?.isReady()) return handle.doc()
    const cached = this.#cached(id, entry)
    if (cached) return cached
    if (!this.storage) return (await this.load(id)).doc()
    const doc = await this.loadStored(id)
    if (!doc) throw new DamagedDocumentError(id, this.#damaged.get(id)?.reason ?? "nothing readable is stored")
    this.#remember(id, doc)
    return doc
  }

  #remember(id: string, doc: A.Doc<Envelope>): void {
    this.#readCache.delete(id)
    this.#readCache.set(id, { heads: [...A.getHeads(doc)].sort().join(), doc })
    if (this.#readCache.size > READ_CACHE_SIZE) this.#readCache.delete(this.#readCache.keys().next().value!)
  }

  /** Load a handle without the catalog checks (for documents arriving from peers). */
  load(id: string): Promise<DocHandle<Envelope>> {
    const ready = this.#handles.get(id)
    if (ready) return Promise.resolve(ready)
    let loading = this.#loading.get(id)
    if (!loading) {
      // Drop unreadable chunks first: automerge-repo would fail on them, or silently stop loading at them.
      const checked = this.storage && !this.repo.handles[id as DocumentId] ? this.readStored(id) : Promise.resolve(undefined)
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

  /** The handle if it is already in memory. */
  loaded(id: string): DocHandle<Envelope> | undefined {
    return this.#handles.get(id)
  }

  /** Register a handle made here (create) and watch it; the caller lists it (noteLocal). */
  adopt(handle: DocHandle<Envelope>): void {
    this.#forked.add(handle)
    this.#attach(handle, false)
  }

  /** Forget a purged document's handle. */
  forget(id: string): void {
    this.#handles.delete(id)
    this.#pending?.drop(id)
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

  /** Whether documents can be written without a handle (there is a storage to write them to). */
  get writesDetached(): boolean {
    return this.#pending !== undefined
  }

  /**
   * Apply a local change made without a handle (`bytes`, its chunk; `entry`,
   * what the catalog lists after it). A handle loaded meanwhile takes the
   * change; otherwise it is written behind the repo (see PendingChunks.ts).
   */
  writeDetached(id: string, bytes: Uint8Array, entry: CatalogEntry): void {
    const late = (this.#handles.get(id) ?? this.repo.handles[id as DocumentId]) as DocHandle<Envelope> | undefined
    if (late?.isReady()) {
      this.#attach(late)
      this.publishLocal(late, doc => A.loadIncremental(doc, bytes))
      this.noteLocal(id, late.doc(), entry.modifiedAt)
      return
    }
    this.#pending!.write(id, bytes)
    this.noteEntry(entry)
    if (late) void late.whenReady(SETTLED).then(() => late.isReady() && this.publishLocal(late, doc => A.loadIncremental(doc, bytes)), () => {})
  }

  /** Resolves when every chunk written behind the repo so far is on disk (see PendingChunks.ts). */
  async pendingWritten(): Promise<void> {
    await this.#pending?.settled()
  }

  /** Record a local change in the catalog and tell listeners. */
  noteLocal(id: string, doc: A.Doc<Envelope>, modifiedAt: number): CatalogEntry {
    return this.noteEntry(this.localEntry(id, doc, modifiedAt))
  }

  /** What the catalog lists for a document after a local change. */
  localEntry(id: string, doc: A.Doc<Envelope>, modifiedAt: number): CatalogEntry {
    const previous = this.catalog.get(id)
    const entry: CatalogEntry = {
      id,
      type: doc.type.val,
      createdAt: doc.createdAt,
      createdBy: doc.createdBy.val,
      modifiedAt,
      deletedAt: doc.deletedAt ?? null,
      heads: [...A.getHeads(doc)].sort(),
    }
    if (previous?.quarantined) entry.quarantined = previous.quarantined
    return entry
  }

  /** List an entry from localEntry and tell listeners. */
  noteEntry(entry: CatalogEntry): CatalogEntry {
    this.catalog.set(entry)
    this.emit("change", { id: entry.id, type: entry.type, origin: "local", entry })
    return entry
  }

  /**
   * Check a document state that came from a peer (or from storage after a
   * peer wrote it) and record it: a changed or forged type, a bad envelope or
   * data that fails its type's definition quarantines the document.
   */
  noteRemote(id: string, doc: A.Doc<Envelope>, unproven?: string, envelope = readEnvelope(doc)): CatalogEntry {
    const previous = this.catalog.get(id)
    const heads = [...A.getHeads(doc)].sort()
    let reason = envelope.ok ? unproven : envelope.reason
    if (envelope.ok && previous && !previous.quarantined && previous.type !== envelope.meta.type) {
      reason = `its type was changed from ${previous.type} to ${envelope.meta.type}`
    }
    const type = previous?.type ?? (envelope.ok ? envelope.meta.type : "unknown")
    if (!reason && envelope.ok) reason = this.invalidData(envelope.meta.type, doc)
    const modifiedAt = modifiedAtOf(doc)
    const entry: CatalogEntry = envelope.ok
      ? { id, type, createdAt: envelope.meta.createdAt, createdBy: envelope.meta.createdBy, modifiedAt, deletedAt: envelope.meta.deletedAt, heads }
      : { id, type, createdAt: previous?.createdAt ?? 0, createdBy: previous?.createdBy ?? "", modifiedAt, deletedAt: previous?.deletedAt ?? null, heads }
    if (reason ?? previous?.quarantined) entry.quarantined = (reason ?? previous?.quarantined)!
    this.catalog.set(entry)
    this.#damaged.settle(id, doc, "peer")
    if (entry.quarantined && !previous?.quarantined) this.emit("quarantine", { id, type, reason: entry.quarantined })
    if (!entry.quarantined) this.emit("change", { id, type, origin: "remote", entry })
    return entry
  }

  /** Why the data breaks its type's definition, or undefined if it is fine or the type is unknown here. */
  invalidData(type: string, doc: A.Doc<Envelope>): string | undefined {
    const definition = this.definitions.get(type)
    if (!definition) return undefined
    try {
      validateData(definition, doc.data, true)
      return undefined
    } catch (error) {
      return error instanceof ValidationError ? `its data does not match type ${type}: ${error.message}` : String(error)
    }
  }

  #attach(handle: DocHandle<Envelope>, checkNow = true): void {
    const id = handle.documentId as string
    if (this.#handles.has(id)) return
    this.#handles.set(id, handle)
    // Before listening: these changes are listed already, they are not a peer's.
    for (const chunk of this.#pending?.of(id) ?? []) if (handle.isReady()) handle.update(doc => A.loadIncremental(doc, chunk.data!))
    handle.on("heads-changed", ({ doc }) => {
      // A purge deletes the handle, which empties its document: that is not a change from a peer.
      if (this.#applyingLocal || !handle.isReady()) return
      this.#noteRemoteChecked(id, doc)
    })
    // Changes that reached the repo before we were listening (a peer synced it while it loaded).
    const entry = this.catalog.get(id)
    if (checkNow && handle.isReady()) {
      const heads = [...A.getHeads(handle.doc())].sort()
      if (entry && !entry.purged && !this.#turns.has(id) && !A.hasHeads(handle.doc(), entry.heads)) this.noteDamaged(id, "changes the catalog lists are missing from storage", entry.heads)
      if (!entry || entry.heads.join() !== heads.join()) this.#noteRemoteChecked(id, handle.doc())
    }
  }

  /**
   * Check a quarantined document afresh, with the definitions here now (as
   * if it had just arrived): undefined and listed again when it passes, else
   * why it still fails (it stays quarantined).
   */
  async recheck(id: string): Promise<string | undefined> {
    const previous = this.catalog.get(id)
    const doc = await this.loadStored(id)
    if (!previous || !doc) return "nothing readable is stored"
    const envelope = readEnvelope(doc)
    if (!envelope.ok) return envelope.reason
    const reason =
      (envelope.meta.type !== previous.type ? `its type was changed from ${previous.type} to ${envelope.meta.type}` : undefined) ??
      (await verifyCreation(id, doc, envelope.meta)) ??
      this.invalidData(envelope.meta.type, doc)
    if (reason) return reason
    const { quarantined: _, ...entry } = previous
    this.catalog.set({ ...entry, heads: [...A.getHeads(doc)].sort(), deletedAt: envelope.meta.deletedAt, modifiedAt: modifiedAtOf(doc) })
    this.emit("change", { id, type: previous.type, origin: "remote", entry: this.catalog.get(id)! })
    return undefined
  }

  /** Why a document's creation proof fails (undefined when it holds, or when the envelope itself is bad: noteRemote says why). */
  async #creationCheck(id: string, doc: A.Doc<Envelope>): Promise<string | undefined> {
    const envelope = readEnvelope(doc)
    return envelope.ok ? verifyCreation(id, doc, envelope.meta) : undefined
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
      check = this.#creationCheck(id, doc)
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

/** Validate a document's data map against its definition (throws ValidationError). */
export function validateData(definition: TypeDefinition, data: unknown, allowUnknownKeys: boolean): void {
  validateStored(dataFieldOf(definition), data, [], { allowUnknownKeys })
}

/** A document from bytes a peer sent; bytes that do not load as a whole (a change whose dependencies are missing) load as far as they go. */
function loadNew(bytes: Uint8Array): A.Doc<Envelope> {
  try {
    return A.load<Envelope>(bytes, { actor: READ_ONLY_ACTOR })
  } catch {
    return A.loadIncremental(A.init<Envelope>(), bytes)
  }
}

/**
 * The actor of documents loaded only to be read and checked (never changed: changes go through the repo's
 * handles, under the session's actor). Without one, Automerge draws a random actor id for every load, about
 * 5% of an initial sync's ingest. Were one changed by mistake, its changes would name no machine and fail checks.
 */
const READ_ONLY_ACTOR = "00000000000000000000000000000000" as A.ActorId
