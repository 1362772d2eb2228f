/**
 * The typed database: create, read, change, delete and query documents over
 * an automerge-repo `Repo` that the runtime (Node, browser) provides with its
 * storage and network.
 */
import * as A from "@automerge/automerge"
import type { DocHandle, Repo, StorageAdapterInterface } from "@automerge/automerge-repo"
import { Catalog, type CatalogEntry } from "../catalog/Catalog.js"
import { materialize, type Doc } from "../document/Document.js"
import { changeTimeMs, readEnvelope, type Envelope } from "../document/envelope.js"
import { NotFoundError, WrongTypeError, ClosedError, TypeDefinitionError, ImmutableTypeError, CodecError, PurgedError, QuarantinedError, UnknownChangeError } from "../errors.js"
import { encodeDocument, type DecodedDocument, type ExportedDocument } from "../codec/exportCodec.js"
import { Emitter } from "../helpers/Emitter.js"
import { machineIdOfActor, newSessionActor } from "../identity/actor.js"
import type { MachineIdentity } from "../identity/Machine.js"
import { assertTypeName, type CreateDataOf, type DataOf, TypeDefinition } from "../schema/TypeDefinition.js"
import { toPlain, toTagged } from "../schema/values.js"
import { assignData } from "../document/assign.js"
import { DamagedDocumentError, type DamagedDocument } from "./DamagedDocuments.js"
import { DocumentStore, type StoreEvents } from "./DocumentStore.js"
import { GroupCommit } from "./GroupCommit.js"
import { runQuery, type QueryOptions } from "./Query.js"
import { READ_CONCURRENCY, startLiveQuery, type LiveQuerySource } from "./LiveQuery.js"
import { forEachLimited } from "../helpers/forEachLimited.js"
import { hasImplausibleEntries, rebuildCatalog, storageHasDocuments, type RebuildReport } from "./rebuild.js"
import { Transaction, type DraftOf, type TypeRef } from "./Transaction.js"

export interface DatabaseOptions {
  /** The automerge-repo Repo, with the runtime's storage and network. */
  repo: Repo
  /** This machine; every change records its id. */
  machine: MachineIdentity
  /** The repo's storage adapter, where the catalog is kept too. Without it the catalog lives in memory. */
  storage?: StorageAdapterInterface
  /** Type definitions the app knows; documents of other types are stored and synced without validation. */
  types?: TypeDefinition<any>[]
  /**
   * The storage found damaged records on open and skipped them. The catalog
   * may then be missing entries or be an older copy, so it is rebuilt from
   * the documents (which also finds the documents the damage hit).
   */
  storageDamaged?: boolean
}

export interface HistoryEntry {
  hash: string
  machineId: string
  /** Milliseconds since the epoch. */
  time: number
  message: string | null
}

export interface DatabaseEvents extends StoreEvents {
  /** The app started or stopped subscribing to a document. */
  watch: { id: string; watched: boolean }
}

type DocOf<R> = R extends TypeDefinition<any> ? Doc<DataOf<R>> : Doc

export class Database extends Emitter<DatabaseEvents> {
  readonly #store: DocumentStore
  readonly #definitions: Map<string, TypeDefinition>
  readonly #commit: GroupCommit
  #closed = false
  readonly #watchers = new Map<string, number>()
  /** Documents being ingested (how many ingests of each are in progress). */
  readonly #ingesting = new Map<string, number>()
  /** What opening had to repair, if anything (a rebuilt catalog). */
  readonly repairs: RebuildReport | undefined

  private constructor(
    readonly repo: Repo,
    readonly machine: MachineIdentity,
    readonly catalog: Catalog,
    definitions: Map<string, TypeDefinition>,
    repairs: RebuildReport | undefined,
    storage: StorageAdapterInterface | undefined,
  ) {
    super()
    this.#definitions = definitions
    this.repairs = repairs
    this.#store = new DocumentStore(repo, catalog, newSessionActor(machine.machineId), definitions, storage)
    this.#store.on("change", event => {
      // A change that arrived by live sync is saved by the repo; the catalog must follow it to disk. An ingest commits
      // its own documents together: committing each as it is noted made a catalog write per document of a batch.
      if (event.origin === "remote" && !this.#ingesting.has(event.id)) this.#commit.commit([event.id]).catch(() => {})
      this.emit("change", event)
    })
    this.#store.on("quarantine", event => this.emit("quarantine", event))
    this.#store.on("damaged", event => this.emit("damaged", event))
    for (const damage of repairs?.damaged ?? []) this.#store.noteDamaged(damage.id, damage.reason)
    this.#commit = new GroupCommit(async ids => {
      // The catalog writes the entries of this group's changes (captured before their documents are saved), not
      // those of changes made while the documents save: their documents wait for the next group, and so do they.
      const updates = this.catalog.capture()
      const live = ids.filter(id => this.#store.loaded(id) && !this.catalog.get(id)?.purged)
      if (live.length) await this.repo.flush(live as never)
      // A large transaction's chunks are written behind the repo (see PendingChunks.ts): on disk before their entries.
      await this.#store.pendingWritten()
      await this.catalog.flush(updates)
    })
  }

  /** Open a database: load the catalog (rebuilding it from the documents if it is missing or damaged). Loads no document. */
  static async open(options: DatabaseOptions): Promise<Database> {
    const definitions = new Map<string, TypeDefinition>()
    for (const definition of options.types ?? []) definitions.set(definition.name, definition)
    let { catalog, found, damaged } = await Catalog.load(options.storage)
    damaged ||= hasImplausibleEntries(catalog) || (found && options.storageDamaged === true)
    let repairs: RebuildReport | undefined
    if (options.storage && (damaged || (!found && (await storageHasDocuments(options.storage))))) {
      const rebuilt = await rebuildCatalog(options.storage, catalog)
      catalog = rebuilt.catalog
      repairs = rebuilt.report
    } else if (options.storage && !found) {
      // Persist the new catalog's epoch at once, so peers' checkpoints stay valid across a restart.
      await catalog.compact()
    }
    return new Database(options.repo, options.machine, catalog, definitions, repairs, options.storage)
  }

  /** The document store (handles, remote checks); for runtimes and replication, not apps. */
  get store(): DocumentStore {
    return this.#store
  }

  /** Add a type definition (documents of that type are validated from now on). */
  register(definition: TypeDefinition<any>): void {
    this.#definitions.set(definition.name, definition)
  }

  /** The definition of a type, if this peer has one. */
  definition(type: string): TypeDefinition | undefined {
    return this.#definitions.get(type)
  }

  /** Every type that has documents here, with how many live (not deleted) documents each has. */
  types(): { type: string; count: number }[] {
    return this.catalog
      .types()
      .map(type => ({ type, count: [...this.catalog.idsOfType(type)].filter(id => isLive(this.catalog.get(id))).length }))
      .sort((a, b) => (a.type < b.type ? -1 : 1))
  }

  /** Create a document. Rejects with ValidationError if the data is invalid (checked before anything is written); resolves when it is on disk. */
  create<R extends TypeRef>(type: R, data: R extends TypeDefinition<any> ? CreateDataOf<R> : Record<string, unknown>, options: { message?: string } = {}): Promise<DocOf<R>> {
    // Every failure is reported through the promise, so `create(...).catch(...)` catches a validation error too.
    try {
      const tx = this.#transaction()
      const id = tx.create(type, data as never)
      return tx.commit(options.message).then(() => this.get(id) as Promise<DocOf<R>>)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Read a document. Pass a definition to check its type and get typed data. Throws NotFoundError, WrongTypeError, QuarantinedError, PurgedError. */
  async get<R extends TypeRef | undefined = undefined>(typeOrId: R | string, maybeId?: string): Promise<R extends TypeDefinition<any> ? Doc<DataOf<R>> : Doc> {
    this.#open()
    const [type, id] = maybeId === undefined ? [undefined, typeOrId as string] : [typeOrId as TypeRef, maybeId]
    const entry = this.catalog.get(id)
    const expected = type === undefined ? undefined : typeName(type)
    if (entry && expected !== undefined && entry.type !== expected) throw new WrongTypeError(id, expected, entry.type)
    const doc = await this.#store.read(id)
    const current = this.catalog.get(id)!
    return materialize(id, doc, current, this.#definitionFor(type, current.type)) as never
  }

  /** Change a document through a typed draft; invalid results are refused as a whole. Resolves when on disk. */
  change<R extends TypeRef>(type: R, id: string, mutate: (draft: DraftOf<R>) => void, options: { message?: string } = {}): Promise<DocOf<R>> {
    return this.transaction(tx => tx.change(type, id, mutate), options).then(() => this.get(id) as Promise<DocOf<R>>)
  }

  /** Soft delete: sets deletedAt; the document leaves lists and replicates as deleted. */
  delete(id: string, options: { message?: string } = {}): Promise<void> {
    return this.transaction(tx => tx.delete(id), options)
  }

  /** Undo a soft delete. */
  restore(id: string, options: { message?: string } = {}): Promise<void> {
    return this.transaction(tx => tx.restore(id), options)
  }

  /** Drop a deleted document's body; a tombstone stays so peers learn to purge it too. */
  async purge(id: string): Promise<void> {
    this.#open()
    const entry = this.catalog.get(id)
    if (!entry) throw new NotFoundError(id)
    if (entry.purged) return
    const purged: CatalogEntry = { ...entry, heads: [], purged: true, deletedAt: entry.deletedAt ?? Date.now(), modifiedAt: Date.now() }
    this.purgeLocally(purged, "local")
    await this.#commit.commit([])
  }

  /** Documents refused as they arrived (quarantined), with why. They are never shown as their type, nor passed on. */
  quarantined(): { id: string; type: string; reason: string; modifiedAt: number }[] {
    return [...this.catalog.entries()].filter(entry => entry.quarantined && !entry.purged).map(entry => ({ id: entry.id, type: entry.type, reason: entry.quarantined!, modifiedAt: entry.modifiedAt }))
  }

  /** A quarantined document as it is stored (tagged JSON, as an export has it), to see what was refused. */
  async quarantinedDocument(id: string): Promise<ExportedDocument> {
    const entry = this.#quarantinedEntry(id)
    const doc = await this.#store.loadStored(id)
    if (!doc) throw new DamagedDocumentError(id, "nothing readable is stored")
    return encodeDocument(id, doc, entry)
  }

  /**
   * Check a quarantined document again with the definitions here now (after
   * a definition was fixed, say). If it passes it is listed and synced
   * again; if not, QuarantinedError says why, and it stays quarantined.
   */
  async releaseQuarantined(id: string): Promise<void> {
    this.#open()
    this.#quarantinedEntry(id)
    const reason = await this.#store.recheck(id)
    if (reason) throw new QuarantinedError(id, `${reason} (still; it stays quarantined)`)
    await this.#commit.commit([])
  }

  /** Drop a quarantined document here: its body is removed, and it is not taken from peers again. Nothing is sent to peers. */
  async dropQuarantined(id: string): Promise<void> {
    this.#open()
    const entry = this.#quarantinedEntry(id)
    this.repo.delete(id as never)
    this.#store.forget(id)
    this.catalog.set({ ...entry, heads: [], purged: true, quarantined: `dropped here: ${entry.quarantined}`, modifiedAt: Date.now() })
    await this.#commit.commit([])
  }

  #quarantinedEntry(id: string): CatalogEntry {
    const entry = this.catalog.get(id)
    if (!entry || entry.purged) throw new NotFoundError(id)
    if (!entry.quarantined) throw new Error(`document ${id} is not quarantined`)
    return entry
  }

  /** Apply a purge tombstone (here, or one that arrived from a peer). */
  purgeLocally(tombstone: CatalogEntry, origin: "local" | "remote"): void {
    this.repo.delete(tombstone.id as never)
    this.#store.forget(tombstone.id)
    this.catalog.set(tombstone)
    this.emit("change", { id: tombstone.id, type: tombstone.type, origin, entry: tombstone })
    // A tombstone from a peer joins the next group like any write, so the checkpoint offered to peers covers it
    // (a local purge commits itself and waits for it).
    if (origin === "remote") void this.#commit.commit([]).catch(() => {})
  }

  /**
   * Change several documents together. Every change is validated before any
   * is applied; if one fails, none is. Resolves when all are on disk.
   */
  transaction(build: (tx: Transaction) => void, options: { message?: string } = {}): Promise<void> {
    try {
      const tx = this.#transaction()
      build(tx)
      return tx.commit(options.message)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Live documents of a type (not deleted), most recently modified first. */
  list<R extends TypeRef>(type: R, options: { includeDeleted?: boolean } = {}): Promise<DocOf<R>[]> {
    return this.query(type, options as QueryOptions<any>) as Promise<DocOf<R>[]>
  }

  /** Query one type: filter, sort, limit. Loads only documents of that type. */
  async query<R extends TypeRef>(type: R, options: QueryOptions<R extends TypeDefinition<any> ? DataOf<R> : Record<string, unknown>> = {}): Promise<DocOf<R>[]> {
    this.#open()
    const name = typeName(type)
    const definition = this.#definitionFor(type, name)
    const ids = [...this.catalog.idsOfType(name)].filter(id => {
      const entry = this.catalog.get(id)!
      return !entry.purged && !entry.quarantined && (options.includeDeleted || entry.deletedAt === null)
    })
    const docs: Doc[] = []
    // A few at a time: reading thousands at once holds thousands of Automerge documents alive together, and garbage
    // collection then takes most of the time (10,000 documents: 17 s of CPU at once, 3 to 4 s a few at a time).
    await forEachLimited(ids, READ_CONCURRENCY, async id => {
      try {
        docs.push(materialize(id, await this.#store.read(id), this.catalog.get(id)!, definition))
      } catch (error) {
        // A document with nothing readable left is reported by `damaged()`; it must not hide the healthy rest.
        if (!(error instanceof DamagedDocumentError)) throw error
      }
    })
    return runQuery(docs as never, options as never) as DocOf<R>[]
  }

  /** Call `listener` with the document now and after every change to it (local or remote); undefined once deleted or purged. */
  subscribe(id: string, listener: (doc: Doc | undefined) => void): () => void {
    let active = true
    let generation = 0
    const push = () => {
      const mine = ++generation
      // Reads can finish out of order: only the latest may call the listener, and none after unsubscribing.
      const deliver = (doc: Doc | undefined) => {
        if (active && mine === generation) listener(doc)
      }
      const entry = this.catalog.get(id)
      if (!entry || entry.purged || entry.quarantined || entry.deletedAt !== null) return deliver(undefined)
      this.get(id).then(deliver, () => deliver(undefined))
    }
    push()
    const stopChanges = this.on("change", event => {
      if (event.id === id) push()
    })
    const stopQuarantine = this.on("quarantine", event => {
      if (event.id === id) push()
    })
    this.#watch(id, +1)
    return () => {
      if (!active) return
      active = false
      stopChanges()
      stopQuarantine()
      this.#watch(id, -1)
    }
  }

  /**
   * True while the app subscribes to the document. Replication uses this:
   * automerge-repo's live per-document sync (lowest latency, one message per
   * keystroke) runs for watched documents; everything else moves in batches.
   */
  isWatched(id: string): boolean {
    return (this.#watchers.get(id) ?? 0) > 0
  }

  #watch(id: string, delta: number): void {
    const count = (this.#watchers.get(id) ?? 0) + delta
    if (count > 0) this.#watchers.set(id, count)
    else this.#watchers.delete(id)
    if ((delta > 0 && count === 1) || count === 0) this.emit("watch", { id, watched: count > 0 })
  }

  /**
   * A live query: `listener` gets the results now and again whenever a document of the type changes anywhere
   * (changes that arrive together give one result). It keeps the documents of the type in memory while it runs.
   */
  liveQuery<R extends TypeRef>(type: R, options: QueryOptions<any>, listener: (docs: DocOf<R>[]) => void): () => void {
    const source: LiveQuerySource = {
      catalog: this.catalog,
      read: id => this.#store.read(id),
      watch: (name, changed) => {
        const stopChanges = this.on("change", event => event.type === name && changed(event.id))
        // A quarantined document must drop out of the results at once.
        const stopQuarantine = this.on("quarantine", event => event.type === name && changed(event.id))
        return () => {
          stopChanges()
          stopQuarantine()
        }
      },
      closed: () => this.#closed,
    }
    return startLiveQuery(source, typeName(type), options, listener as (docs: Doc[]) => void)
  }

  /** Every value concurrently written to the register at `path` (one value when there is no conflict). */
  async conflicts(id: string, path: (string | number)[]): Promise<unknown[]> {
    const current = await this.#store.read(id)
    if (path.length === 0) throw new TypeError("conflicts needs the path of a field")
    let parent: any = current.data
    for (const key of path.slice(0, -1)) parent = parent?.[key]
    if (parent === undefined || parent === null) throw new NotFoundError(`${id} at ${path.join(".")}`)
    const key = path.at(-1)!
    const values = A.getConflicts(parent, key as never)
    if (values) return Object.values(values).map(toPlain)
    // Automerge reports nothing for a register with a single value: that value is the answer.
    return parent[key] === undefined ? [] : [toPlain(parent[key])]
  }

  /** The changes of a document, oldest first: hash, machine, time, message. */
  async history(id: string): Promise<HistoryEntry[]> {
    const doc = await this.#store.read(id)
    return A.getChangesMetaSince(doc, []).map(change => ({
      hash: change.hash,
      machineId: machineIdOfActor(change.actor),
      time: changeTimeMs(change.time),
      message: change.message ?? null,
    }))
  }

  /** A read-only view of a document as it was at a change (`hash` from history), or at several heads. Throws UnknownChangeError for a hash it does not have. */
  async view(id: string, heads: string | string[]): Promise<Doc> {
    const { at, entry } = await this.#at(id, heads)
    return { ...materialize(id, at, entry, this.#definitions.get(entry.type)), modifiedAt: entry.modifiedAt }
  }

  /** A document as exportable JSON that keeps field kinds (see codec/exportCodec.ts); with `heads`, as it was at that change (see view). */
  async exportDocument(id: string, heads?: string | string[]): Promise<ExportedDocument> {
    if (heads !== undefined) {
      const { at, entry } = await this.#at(id, heads)
      return encodeDocument(id, at, entry)
    }
    const doc = await this.#store.read(id)
    return encodeDocument(id, doc, this.catalog.get(id)!)
  }

  /** The document as it was at `heads`, with the catalog entry it had then (modifiedAt: the time of those changes). */
  async #at(id: string, heads: string | string[]): Promise<{ at: A.Doc<Envelope>; entry: CatalogEntry }> {
    const current = await this.#store.read(id)
    const hashes = Array.isArray(heads) ? heads : [heads]
    // Automerge views an unknown (well-formed) hash as an empty document instead of refusing it.
    const unknown = hashes.find(hash => !/^[0-9a-f]{64}$/.test(hash) || A.inspectChange(current, hash) === null)
    if (unknown !== undefined) throw new UnknownChangeError(id, unknown)
    const at = A.view(current, hashes) as A.Doc<Envelope>
    const time = Math.max(0, ...A.getHeads(at).map(hash => changeTimeMs((A.inspectChange(at, hash) as { time: number }).time)))
    return { at, entry: { ...this.catalog.get(id)!, modifiedAt: time } }
  }

  /** A document's whole history (its saved Automerge bytes), to export beside its JSON. */
  async exportHistory(id: string): Promise<Uint8Array> {
    await this.#store.read(id)
    const bytes = await this.#store.readStored(id)
    if (!bytes) throw new NotFoundError(id)
    return bytes
  }

  /**
   * Import a document's history (from `exportHistory`) under its own id: the
   * very same document, so it converges with every other copy of it. Where
   * the id is already here its histories merge. Checked as a document from a
   * peer is: a broken or rewritten envelope is refused with the reason before
   * anything is stored; one that fails the later checks (the creator's
   * signature, the data) is kept quarantined, and the import fails with why.
   * `json`, the document's exported JSON, is written on top (as changes
   * carrying `message`) where a person edited it after the export.
   */
  async importHistory(id: string, bytes: Uint8Array, json?: DecodedDocument, options: { message?: string } = {}): Promise<"created" | "merged" | "changed" | "unchanged"> {
    this.#open()
    let doc: A.Doc<Envelope>
    try {
      doc = A.load<Envelope>(bytes)
    } catch (error) {
      throw new CodecError(`the history of ${id} does not load: ${(error as Error).message}`)
    }
    const envelope = readEnvelope(doc)
    if (!envelope.ok) throw new CodecError(`the history of ${id} is refused: ${envelope.reason}`)
    const existing = this.catalog.get(id)
    if (existing && existing.type !== envelope.meta.type) throw new ImmutableTypeError(`document ${id} is a ${existing.type} here; its history says ${envelope.meta.type}`)
    if (existing?.purged) throw new PurgedError(id)
    const before = existing?.heads.join()
    await this.ingest([{ id, bytes }])
    const entry = this.catalog.get(id)
    if (entry?.quarantined && !existing?.quarantined) throw new CodecError(`the history of ${id} is refused: ${entry.quarantined}`)
    // JSON exported beside the history and edited since: what the person changed goes on top, as changes. Unedited
    // JSON is the history's own data and changes nothing (writing it would undo what happened after the export).
    if (json && JSON.stringify(toTagged(json.data)) !== JSON.stringify(toTagged(doc.data)) && (await this.importDocument(json, options)).result === "changed") return "changed"
    if (!existing) return "created"
    return entry?.heads.join() === before ? "unchanged" : "merged"
  }

  /**
   * Import a document from its JSON alone (no history). Where its id is
   * here, the values that differ are written as changes on top ("changed",
   * or "unchanged"); where it is not, it becomes a new document with a new id
   * (an id stands for one history, and the JSON does not carry it).
   * `message` goes on the changes the import writes.
   */
  async importDocument(input: DecodedDocument, options: { message?: string } = {}): Promise<{ result: "created" | "changed" | "unchanged"; id: string }> {
    this.#open()
    const existing = this.catalog.get(input.id)
    if (existing) {
      if (existing.type !== input.type) throw new ImmutableTypeError(`document ${input.id} is a ${existing.type} here; it cannot be imported as a ${input.type}`)
      const before = existing.heads.join()
      const current = (await this.get(input.id)).data as Record<string, unknown>
      const typed = this.definition(input.type) !== undefined
      await this.change(input.type, input.id, draft => assignData(draft, current, input.data, typed), options)
      return { result: this.catalog.get(input.id)!.heads.join() === before ? "unchanged" : "changed", id: input.id }
    }
    const tx = this.#transaction()
    const id = tx.createStored({ type: input.type, data: input.data, typeVersion: input.typeVersion, createdAt: input.createdAt, deletedAt: input.deletedAt })
    await tx.commit(options.message)
    return { result: "created", id }
  }

  /**
   * Apply document bytes that a peer sent (replication). Checked like any
   * remote change: a bad document is stored but quarantined. Resolves when
   * on disk.
   */
  async ingest(docs: { id: string; bytes: Uint8Array }[], acceptType: (type: string) => boolean = () => true): Promise<CatalogEntry[]> {
    this.#open()
    for (const { id } of docs) this.#ingesting.set(id, (this.#ingesting.get(id) ?? 0) + 1)
    try {
      const entries = await this.#store.ingest(docs, acceptType)
      await this.#commit.commit(docs.map(d => d.id))
      return entries
    } finally {
      for (const { id } of docs) {
        const left = this.#ingesting.get(id)! - 1
        if (left > 0) this.#ingesting.set(id, left)
        else this.#ingesting.delete(id)
      }
    }
  }

  /**
   * Documents whose stored copy was found damaged (by a catalog rebuild, a
   * read, or `verify`) and not yet recovered. Replication asks connected
   * peers for them; each leaves this list once a peer has sent it back.
   */
  damaged(): DamagedDocument[] {
    return this.#store.damaged()
  }

  /**
   * Check every stored document (or those in `ids`): unreadable chunks are
   * dropped, lost changes noticed; return the damaged ones: those still
   * missing something (also in `damaged()`) and those whose dropped chunks
   * held nothing the rest lacked. Reads every document it checks, so it is
   * not done on open; documents open in memory are whole there and skipped.
   * An id the catalog does not know (its storage reported a damaged record of
   * it, and nothing else of it is left) is reported damaged of unknown type,
   * so peers that have it send it back.
   */
  async verify(ids?: Iterable<string>): Promise<DamagedDocument[]> {
    this.#open()
    const found = new Map<string, DamagedDocument>()
    const stop = this.on("damaged", damage => void found.set(damage.id, damage))
    try {
      const entries = ids ? [...new Set(ids)].map(id => this.catalog.get(id) ?? id) : [...this.catalog.entries()]
      for (const entry of entries) {
        if (typeof entry === "string") {
          if (!(await this.#store.loadStored(entry))) this.#store.noteDamaged(entry, "a stored record of it was damaged and nothing readable is left", [])
        } else if (!entry.purged && !this.#store.loaded(entry.id)) await this.#store.loadStored(entry.id)
      }
    } finally {
      stop()
    }
    const wanted = ids ? new Set(ids) : undefined
    for (const damage of this.damaged()) if (!wanted || wanted.has(damage.id)) found.set(damage.id, damage)
    return [...found.values()]
  }

  /** Resolves when every acknowledged write so far is on disk. */
  async flush(): Promise<void> {
    await this.#commit.idle()
  }

  /** Flush and stop; the repo is the runtime's to shut down. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.flush()
    await this.catalog.compact()
    this.#closed = true
  }

  #transaction(): Transaction {
    this.#open()
    return new Transaction({
      repo: this.repo,
      store: this.#store,
      catalog: this.catalog,
      machine: this.machine,
      definition: name => this.#definitions.get(name),
      commit: ids => this.#commit.commit(ids),
    })
  }

  /** The definition documents of `type` are read with: the one the caller passed, else the one registered. */
  #definitionFor(type: TypeRef | undefined, name: string): TypeDefinition | undefined {
    return type instanceof TypeDefinition ? type : this.#definitions.get(name)
  }

  #open(): void {
    if (this.#closed) throw new ClosedError()
  }
}

/** Documents a query reads at once. */
const READ_BATCH = 256

function typeName(type: TypeRef): string {
  if (type instanceof TypeDefinition) return type.name
  assertTypeName(type)
  return type
}

function isLive(entry: CatalogEntry | undefined): boolean {
  return !!entry && !entry.purged && !entry.quarantined && entry.deletedAt === null
}

export { TypeDefinitionError }
export type { DocHandle }
