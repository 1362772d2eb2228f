/**
 * The typed database: create, read, change, delete and query documents over
 * an automerge-repo `Repo` that the runtime (Node, browser) provides with its
 * storage and network.
 */
import type { DocHandle, Repo, StorageAdapterInterface } from "@automerge/automerge-repo"
import { isVisible, type Catalog, type CatalogEntry } from "../catalog/Catalog.js"
import { materialize, type Doc, type DocOf } from "../document/Document.js"
import { NotFoundError, WrongTypeError, ClosedError, TypeDefinitionError } from "../errors.js"
import type { DecodedDocument, ExportedDocument } from "../codec/exportCodec.js"
import { Emitter } from "../helpers/Emitter.js"
import type { AppDatabase } from "./AppDatabase.js"
import { newSessionActor, toHex } from "../identity/actor.js"
import { packVouches } from "../identity/vouch.js"
import type { MachineIdentity } from "../identity/Machine.js"
import { describedType, type PublishedDefinition } from "../schema/schemaDocuments.js"
import { learnPublished, publishDefinitions, publishedDefinitions } from "./publishedSchemas.js"
import { assertTypeName, type CreateDataOf, type DataOf, TypeDefinition } from "../schema/TypeDefinition.js"
import type { DamagedDocument } from "./DamagedDocuments.js"
import { DocumentStore, type StoreEvents } from "./DocumentStore.js"
import { ChangeSeries } from "./ChangeSeries.js"
import { GroupCommit } from "./GroupCommit.js"
import { GroupWriter } from "./GroupWriter.js"
import { isAtomicStorage } from "../storage/AtomicStorage.js"
import { DocumentPast, type HistoryEntry } from "./history.js"
import type { FieldDiff } from "./changeDiff.js"
import { runQuery, type QueryOptions } from "./Query.js"
import { readDocuments, startLiveQuery, type LiveQuerySource } from "./LiveQuery.js"
import { Quarantine, type QuarantinedDocument } from "./Quarantine.js"
import { importDocument, importHistory, type ImportTarget } from "./importing.js"
import { openCatalog, type RebuildReport } from "./rebuild.js"
import { Replica } from "./Replica.js"
import { Transaction, type DraftOf, type TypeRef } from "./Transaction.js"
import { TypeRegistry } from "./TypeRegistry.js"
import { followDocuments, subscribeDocument } from "./subscription.js"

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

export interface DatabaseEvents extends StoreEvents {
  /** A newer version of a registered type was learnt (see learnNewer); emitted before its quarantined documents are checked again. */
  learnt: { definition: TypeDefinition }
}

export class Database extends Emitter<DatabaseEvents> implements AppDatabase {
  readonly #store: DocumentStore
  readonly #definitions: TypeRegistry
  readonly #commit: GroupCommit
  readonly #writer: GroupWriter
  readonly #series = new ChangeSeries(() => this.#transaction())
  readonly #quarantine: Quarantine
  readonly #past: DocumentPast
  #closed = false
  /** What opening had to repair, if anything (a rebuilt catalog). */
  readonly repairs: RebuildReport | undefined
  /** Replication's side of this database (ingest, bytes for a peer, damage, flush); for runtimes and replication, not apps. */
  readonly replica: Replica

  private constructor(
    readonly repo: Repo,
    readonly machine: MachineIdentity,
    readonly catalog: Catalog,
    types: readonly TypeDefinition<any>[],
    repairs: RebuildReport | undefined,
    storage: StorageAdapterInterface | undefined,
  ) {
    super()
    this.#definitions = new TypeRegistry(
      types,
      catalog,
      id => this.releaseQuarantined(id),
      definition => this.emit("learnt", { definition }),
    )
    this.repairs = repairs
    this.#store = new DocumentStore(repo, catalog, newSessionActor(machine.machineId), this.#definitions.byName, storage, machine)
    this.#store.on("change", event => this.emit("change", event))
    this.#store.on("quarantine", event => this.emit("quarantine", event))
    this.#store.on("damaged", event => this.emit("damaged", event))
    for (const damage of repairs?.damaged ?? []) this.#store.noteDamaged(damage.id, damage.reason)
    this.#writer = new GroupWriter(repo, this.#store, catalog, isAtomicStorage(storage) ? storage : undefined)
    this.#commit = new GroupCommit(ids => this.#writer.write(ids))
    this.replica = new Replica(this.#store, catalog, this.#commit, machine, () => this.#open())
    this.#quarantine = new Quarantine(
      this.#store,
      catalog,
      type => this.#definitions.get(type),
      () => this.#commit.commit([]),
    )
    this.#past = new DocumentPast(this.#store, catalog, type => this.#definitions.get(type))
    // A newer version's definition arriving as a document (through a relay, say) is learnt as one from a peer at connect is.
    this.on("change", event => {
      const described = describedType(event.type)
      // A conflict is left for publishedDefinitions to report; what else can fail here is reading while the database closes.
      if (described && event.origin !== "local" && this.#definitions.has(described)) void learnPublished(this, described).catch(() => {})
    })
  }

  /** Store this peer's definitions as schema documents, so peers without app code know them (see database/publishedSchemas.ts). */
  publishDefinitions(): Promise<string[]> {
    return publishDefinitions(this)
  }

  /** The definitions of `type` stored here as schema documents (published here or synced from peers), by version, conflicts named. */
  publishedDefinitions(type: string): Promise<PublishedDefinition[]> {
    return publishedDefinitions(this, type)
  }

  /** Open a database: load the catalog (rebuilding it from the documents if it is missing or damaged). Loads no document. */
  static async open(options: DatabaseOptions): Promise<Database> {
    const { catalog, repairs } = await openCatalog(options.storage, options.storageDamaged === true)
    return new Database(options.repo, options.machine, catalog, options.types ?? [], repairs, options.storage)
  }

  /** Add a type definition (documents of that type are validated from now on). */
  register(definition: TypeDefinition<any>): void {
    this.#definitions.register(definition)
  }

  /**
   * A newer version of a registered type, from a peer that runs it: from
   * now on this peer reads and writes documents created at that version in
   * its own version's shape, through the newer version's lens backwards,
   * and checks them against the newer definition. Documents quarantined
   * because this peer could not read them are checked again. Throws
   * TypeDefinitionError when it is no newer version of a registered type,
   * has no lens back to it, or differs from a definition of the same
   * version already learnt (the first is kept: a conflict is never a
   * silent overwrite).
   */
  learnNewer(newer: TypeDefinition): Promise<boolean> {
    return this.#definitions.learnNewer(newer)
  }

  /** The definition of a type, if this peer has one. */
  definition(type: string): TypeDefinition | undefined {
    return this.#definitions.get(type)
  }

  /** Every definition this peer has. */
  definitions(): TypeDefinition[] {
    return this.#definitions.all()
  }

  /** Every type that has documents here, with how many live (not deleted) documents each has. */
  types(): { type: string; count: number }[] {
    return this.catalog
      .types()
      .map(type => ({ type, count: [...this.catalog.idsOfType(type)].filter(id => isVisible(this.catalog.get(id))).length }))
      .sort((a, b) => (a.type < b.type ? -1 : 1))
  }

  /** Create a document. Rejects with ValidationError if the data is invalid (checked before anything is written); resolves when it is on disk. */
  create<R extends TypeRef>(
    type: R,
    data: R extends TypeDefinition<any> ? CreateDataOf<R> : Record<string, unknown>,
    options: { message?: string } = {},
  ): Promise<DocOf<R>> {
    return this.#rejecting(() => {
      const tx = this.#transaction()
      const id = tx.create(type, data as never)
      // The new document as written, not loaded back: loading it cost more than creating it.
      return tx.commit(options.message).then(() => (tx.created(id) as DocOf<R> | undefined) ?? (this.get(id) as Promise<DocOf<R>>))
    })
  }

  /** Read a document. Pass a definition to check its type and get typed data. Throws NotFoundError, WrongTypeError, QuarantinedError, PurgedError. */
  async get<R extends TypeRef | undefined = undefined>(
    typeOrId: R | string,
    maybeId?: string,
  ): Promise<R extends TypeDefinition<any> ? Doc<DataOf<R>> : Doc> {
    this.#open()
    const [type, id] = maybeId === undefined ? [undefined, typeOrId as string] : [typeOrId as TypeRef, maybeId]
    const entry = this.catalog.get(id)
    const expected = type === undefined ? undefined : typeName(type)
    if (entry && expected !== undefined && entry.type !== expected) throw new WrongTypeError(id, expected, entry.type)
    const doc = await this.#store.view(id)
    const current = this.catalog.get(id)!
    return materialize(id, doc, current, this.#definitions.for(type, current.type)) as never
  }

  /** Change a document through a typed draft; invalid results are refused as a whole. Resolves when on disk. */
  change<R extends TypeRef>(
    type: R,
    id: string,
    mutate: (draft: DraftOf<R>) => void,
    options: { message?: string } = {},
  ): Promise<DocOf<R>> {
    return this.#rejecting(() => this.#series.add(type, id, mutate, options.message)).then(() => this.get(id) as Promise<DocOf<R>>)
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
    this.#store.notePurged(purged, "local")
    await this.#commit.commit([])
  }

  /** Documents refused as they arrived (quarantined), with why. They are never shown as their type, nor passed on. */
  quarantined(): QuarantinedDocument[] {
    return this.#quarantine.list()
  }

  /** A quarantined document as it is stored (tagged JSON, as an export has it), to see what was refused. */
  quarantinedDocument(id: string): Promise<ExportedDocument> {
    return this.#quarantine.document(id)
  }

  /**
   * Check a quarantined document again with the definitions here now (after
   * a definition was fixed, say). If it passes it is listed and synced
   * again; if not, QuarantinedError says why, and it stays quarantined.
   */
  releaseQuarantined(id: string): Promise<void> {
    return this.#rejecting(() => this.#quarantine.release(id))
  }

  /** Drop a quarantined document here: its body is removed, and it is not taken from peers again. Nothing is sent to peers. */
  dropQuarantined(id: string): Promise<void> {
    return this.#rejecting(() => this.#quarantine.drop(id))
  }

  /**
   * Change several documents together. Every change is validated before any
   * is applied; if one fails, none is. Resolves when all are on disk.
   */
  transaction(build: (tx: Transaction) => void, options: { message?: string } = {}): Promise<void> {
    return this.#rejecting(() => {
      const tx = this.#transaction()
      build(tx)
      return tx.commit(options.message)
    })
  }

  /** Live documents of a type (not deleted), most recently modified first. */
  list<R extends TypeRef>(type: R, options: { includeDeleted?: boolean } = {}): Promise<DocOf<R>[]> {
    return this.query(type, options as QueryOptions<any>) as Promise<DocOf<R>[]>
  }

  /** Query one type: filter, sort, limit. Loads only documents of that type. */
  async query<R extends TypeRef>(
    type: R,
    options: QueryOptions<R extends TypeDefinition<any> ? DataOf<R> : Record<string, unknown>> = {},
  ): Promise<DocOf<R>[]> {
    this.#open()
    const name = typeName(type)
    const definition = this.#definitions.for(type, name)
    const ids = [...this.catalog.idsOfType(name)].filter(id => isVisible(this.catalog.get(id), options))
    // Read as a view: a new document read at ingest is given as its root, without loading it (DocumentStore.view).
    const docs = await readDocuments({ read: id => this.#store.view(id) }, this.catalog, ids, definition)
    return runQuery(docs as never, options as never) as DocOf<R>[]
  }

  /** Call `listener` with the document now and after every change to it (local or remote); undefined once deleted or purged. */
  subscribe(id: string, listener: (doc: Doc | undefined) => void): () => void {
    return subscribeDocument(
      { events: this, visible: id => isVisible(this.catalog.get(id)), get: id => this.get(id), watch: id => this.replica.watch(id) },
      id,
      listener,
    )
  }

  /**
   * A live query: `listener` gets the results now and again whenever a document of the type changes anywhere
   * (changes that arrive together give one result). It keeps the documents of the type in memory while it runs.
   */
  liveQuery<R extends TypeRef>(type: R, options: QueryOptions<any>, listener: (docs: DocOf<R>[]) => void): () => void {
    const source: LiveQuerySource = {
      catalog: this.catalog,
      read: id => this.#store.view(id),
      watch: (name, changed) => followDocuments(this, event => event.type === name, changed),
      closed: () => this.#closed,
      definition: () => this.#definitions.for(type, typeName(type)),
    }
    return startLiveQuery(source, typeName(type), options, listener as (docs: Doc[]) => void)
  }

  /** Every value concurrently written to the register at `path` (one value when there is no conflict). */
  conflicts(id: string, path: (string | number)[]): Promise<unknown[]> {
    return this.#past.conflicts(id, path)
  }

  /** The changes of a document, oldest first: hash, machine, time, message. */
  history(id: string): Promise<HistoryEntry[]> {
    return this.#past.history(id)
  }

  /** What the change `hash` (from history) did to the document's data, field by field (see changeDiff.ts). Throws UnknownChangeError for a hash it does not have. */
  changeDiff(id: string, hash: string): Promise<FieldDiff[]> {
    return this.#past.changeDiff(id, hash)
  }

  /** A read-only view of a document as it was at a change (`hash` from history), or at several heads. Throws UnknownChangeError for a hash it does not have. */
  view(id: string, heads: string | string[]): Promise<Doc> {
    return this.#past.view(id, heads)
  }

  /** A document as exportable JSON that keeps field kinds (see codec/exportCodec.ts); with `heads`, as it was at that change (see view). */
  async exportDocument(id: string, heads?: string | string[]): Promise<ExportedDocument> {
    const exported = await this.#past.exportDocument(id, heads)
    if (heads !== undefined) return exported
    // With the vouches for its history (exportHistory), which an import checks.
    const vouches = await this.replica.vouchesFor(id)
    return vouches.length > 0 ? { ...exported, vouches: toHex(packVouches(vouches)) } : exported
  }

  /** A document's whole history (its saved Automerge bytes), to export beside its JSON. */
  exportHistory(id: string): Promise<Uint8Array> {
    return this.#past.exportHistory(id)
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
  importHistory(
    id: string,
    bytes: Uint8Array,
    json?: DecodedDocument,
    options: { message?: string } = {},
  ): Promise<"created" | "merged" | "changed" | "unchanged"> {
    return this.#rejecting(() => importHistory(this.#importTarget(), id, bytes, json, options))
  }

  /**
   * Import a document from its JSON alone (no history). Where its id is
   * here, the values that differ are written as changes on top ("changed",
   * or "unchanged"); where it is not, it becomes a new document with a new id
   * (an id stands for one history, and the JSON does not carry it).
   * `message` goes on the changes the import writes.
   */
  importDocument(
    input: DecodedDocument,
    options: { message?: string } = {},
  ): Promise<{ result: "created" | "changed" | "unchanged"; id: string }> {
    return this.#rejecting(() => importDocument(this.#importTarget(), input, options))
  }

  /** Run `run` on an open database, every failure reported through the promise (so `.catch` catches a validation error too). */
  #rejecting<T>(run: () => Promise<T>): Promise<T> {
    try {
      this.#open()
      return run()
    } catch (error) {
      return Promise.reject(error)
    }
  }

  #importTarget(): ImportTarget {
    return {
      catalog: this.catalog,
      ingest: (docs, refuse) => this.replica.ingest(docs, undefined, refuse),
      get: id => this.get(id),
      change: (type, id, mutate, options) => this.change(type, id, mutate, options),
      typed: type => this.#definitions.has(type),
      transaction: () => this.#transaction(),
    }
  }

  /**
   * Documents whose stored copy was found damaged (by a catalog rebuild, a
   * read, or `verify`) and not yet recovered. Replication asks connected
   * peers for them; each leaves this list once a peer has sent it back.
   */
  damaged(): DamagedDocument[] {
    return this.replica.damaged()
  }

  /** Check every stored document (or those in `ids`) for damage; returns the damaged ones (see Replica.verify). */
  verify(ids?: Iterable<string>): Promise<DamagedDocument[]> {
    return this.replica.verify(ids)
  }

  /** Flush and stop; the repo is the runtime's to shut down. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.#commit.idle()
    await this.#writer.idle()
    await this.catalog.compact()
    this.#closed = true
  }

  #transaction(): Transaction {
    this.#open()
    // Changes made before this write apply before it.
    this.#series.flush()
    return new Transaction({
      repo: this.repo,
      store: this.#store,
      catalog: this.catalog,
      machine: this.machine,
      definition: name => this.#definitions.get(name),
      commit: ids => this.#commit.commit(ids),
    })
  }

  #open(): void {
    if (this.#closed) throw new ClosedError()
  }
}

function typeName(type: TypeRef): string {
  if (type instanceof TypeDefinition) return type.name
  assertTypeName(type)
  return type
}

export { TypeDefinitionError }
export type { DocHandle, HistoryEntry }
