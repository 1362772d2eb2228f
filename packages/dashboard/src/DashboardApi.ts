/**
 * What the dashboard's JSON API answers, over a node peer: the overview
 * (this machine, types with counts, peers), the documents of a type, one
 * document with its history, the changes the page makes, and the
 * documents quarantined on arrival (to release or drop). Each method
 * returns the JSON to send or throws (an HttpError, or a Cairn error that
 * `statusOf` maps to a status).
 */
import {
  ClosedError,
  DeletedDocumentError,
  ImmutableTypeError,
  NotFoundError,
  PurgedError,
  QuarantinedError,
  TypeDefinitionError,
  QueryError,
  UnknownChangeError,
  ValidationError,
  WrongTypeError,
  assertTypeName,
  dataFieldOf,
  describedType,
  fromTagged,
  isVisible,
  toTagged,
  untagForField,
  withDefaults,
  type CatalogEntry,
  type TypeDefinitionJSON,
} from "@cairn/core"
import type { NodePeer } from "@cairn/node"
import { applyEdit, parseEdit } from "./edits.js"
import type {
  Connection,
  DocumentDetail,
  DocumentList,
  Overview,
  PeerView,
  PresenceView,
  QuarantinedDetail,
  QuarantinedList,
  QuarantinedSummary,
} from "./shapes.js"
import { HttpError, isObject, parseWhole } from "./http.js"
import type { PeerMemory } from "./PeerMemory.js"
import { DocumentHistory } from "./DocumentHistory.js"
import { DocumentIndex, type IndexedRow } from "./DocumentIndex.js"
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, needsIndex, parseDocumentQuery, runDocumentQuery, sortEntries } from "./DocumentQuery.js"
import { cellsOf } from "./summaries.js"
import { type SchemaSource, SyncedSchemas } from "./SyncedSchemas.js"

/** The newest changes a document's detail carries; the history endpoint pages through the rest. */
const DETAIL_HISTORY = 50

export class DashboardApi {
  /** What lists search, filter and sort over (see DocumentIndex.ts). */
  readonly index: DocumentIndex

  /** Changes with diffs, versions, restores (see DocumentHistory.ts). */
  readonly history: DocumentHistory

  /** The definitions shown and created with, the app's or synced (see SyncedSchemas.ts). */
  readonly schemas: SyncedSchemas

  constructor(
    private readonly peer: NodePeer,
    private readonly memory: PeerMemory,
    /** How long a search waits for the index to finish reading before it answers from what it has read. */
    private readonly indexWaitMs = 2000,
  ) {
    this.index = new DocumentIndex(peer.db)
    this.history = new DocumentHistory(peer.db, machineId => this.#nameOf(machineId))
    this.schemas = new SyncedSchemas(peer.db)
  }

  /** Every machine this peer's presence can see (itself first), with its state and links: the whole network, not only direct links. */
  presence(): PresenceView {
    return { machineId: this.peer.machineId, machines: this.peer.presence.get(), now: Date.now() }
  }

  /** Restore a field from an old version (see DocumentHistory.restore), answering the document as it is now. */
  async restore(id: string, body: unknown): Promise<DocumentDetail> {
    this.#entry(id)
    await this.history.restore(id, body)
    return this.document(id)
  }

  #nameOf(machineId: string): string | undefined {
    if (machineId === this.peer.machineId) return this.peer.db.machine.name
    return (
      this.peer.presence.get().find(entry => entry.machineId === machineId)?.name ??
      this.peers().find(peer => peer.machineId === machineId)?.name ??
      undefined
    )
  }

  async overview(): Promise<Overview> {
    const { db, replicator, network, directory } = this.peer
    const schemas: Record<string, TypeDefinitionJSON> = {}
    const schemaSources: Record<string, SchemaSource> = {}
    for (const saved of await directory.types()) {
      const definition = db.definition(saved.name)
      if (definition) [schemas[definition.name], schemaSources[definition.name]] = [definition.toJSON(), "app"]
    }
    for (const type of this.schemas.described()) {
      const shown = schemas[type] ? undefined : await this.schemas.of(type)
      if (shown) [schemas[type], schemaSources[type]] = [shown.definition.toJSON(), shown.source]
    }
    // A schema document is shown as its type's schema, not as a type of its own.
    const held = db.types().filter(({ type }) => describedType(type) === undefined)
    const counts = new Map([...Object.keys(schemas).map(type => [type, 0] as const), ...held.map(t => [t.type, t.count] as const)])
    return {
      machine: { machineId: db.machine.machineId, name: db.machine.name ?? null, wants: replicator.wants, relay: replicator.relay },
      types: [...counts]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([type, count]) => ({
          type,
          count,
          defined: db.definition(type) !== undefined,
          ...(schemaSources[type] === "synced" ? { synced: true as const } : {}),
        })),
      schemas,
      schemaSources,
      peers: this.peers(),
      connections: [...network.clients(), ...this.#folderLinks()],
      quarantined: db.quarantined().length,
      now: Date.now(),
    }
  }

  /** The folders this peer syncs through, as links (see Connection). */
  #folderLinks(): Connection[] {
    return this.peer.folders().map(folder => {
      const status = folder.status()
      return {
        url: `file://${status.dir}`,
        transport: "folder",
        status: status.error ? "failed" : status.running ? "watching" : "synced",
        ...(status.error ? { refusal: status.error } : {}),
        lastSyncAt: status.lastSyncAt,
      }
    })
  }

  /** Peers connected now, then those seen since the dashboard started. */
  peers(): PeerView[] {
    return this.memory.views(this.peer.peers()).map(view => {
      const transport = view.connected ? this.peer.network.transportOf(view.peerId) : undefined
      return transport ? { ...view, transport } : view
    })
  }

  /**
   * A page of a type's documents: searched, filtered, sorted (see
   * DocumentQuery.ts), with how many match in all. A page in catalog order
   * reads only its own documents (and has the index read the rest meanwhile).
   */
  async list(params: URLSearchParams): Promise<DocumentList> {
    const query = parseDocumentQuery(params)
    const { offset, limit } = query
    let total: number
    let page: IndexedRow[]
    let indexing: DocumentList["indexing"]
    if (needsIndex(query)) {
      const found = await this.index.rowsWithin(query.type, query.includeDeleted, this.indexWaitMs)
      if (!found.complete) indexing = { read: found.read, of: found.of }
      const matching = runDocumentQuery(found.rows, query)
      total = matching.length
      page = matching.slice(offset, offset + limit)
    } else {
      const { catalog } = this.peer.db
      const entries: CatalogEntry[] = []
      for (const id of catalog.idsOfType(query.type)) {
        const entry = catalog.get(id)
        if (isVisible(entry, { includeDeleted: query.includeDeleted })) entries.push(entry)
      }
      total = entries.length
      page = await this.index.documents(sortEntries(entries, query.sort).slice(offset, offset + limit))
      this.index.warm(query.type)
    }
    const docs = page.map(({ entry, doc }) => ({
      id: entry.id,
      type: entry.type,
      createdAt: entry.createdAt,
      createdBy: entry.createdBy,
      modifiedAt: entry.modifiedAt,
      deletedAt: entry.deletedAt,
      summary: doc.summary,
      cells: cellsOf(doc.data),
    }))
    const { column: sort, direction: order } = query.sort
    return { type: query.type, total, offset, limit, sort, order, docs, ...(indexing ? { indexing } : {}) }
  }

  async document(id: string): Promise<DocumentDetail> {
    const { db } = this.peer
    const [exported, history] = await Promise.all([db.exportDocument(id), this.history.entries(id)])
    const { format: _, ...document } = exported
    const definition = (await this.schemas.at(document.type, document.typeVersion))?.toJSON()
    // A document made without the definition (by the CLI, say) shows, as the app reads it, the defaults of the fields it lacks.
    if (definition)
      document.data = toTagged(withDefaults({ kind: "map", fields: definition.fields }, fromTagged(document.data, []))) as Record<
        string,
        unknown
      >
    const newest = history.slice(-DETAIL_HISTORY).reverse()
    return { document, history: newest, changes: history.length, definition: definition ?? null }
  }

  async create(body: unknown): Promise<DocumentDetail> {
    if (!isObject(body)) throw new HttpError(400, `send {"type": NAME, "data": {...}}`)
    const { type, data } = body
    assertTypeName(type)
    if (!isObject(data))
      throw new HttpError(
        400,
        `"data" must be a JSON object of fields (tagged JSON: "s" is a register, {"$text": "s"} text, {"$counter": 1} a counter)`,
      )
    // Without app code for the type, the newest synced definition gives its defaults and kinds, as `cairn create` does.
    const definition = (await this.schemas.of(type))?.definition
    const message = { message: "created in the dashboard" }
    const doc = definition
      ? await this.peer.db.create(definition, untagForField(dataFieldOf(definition), data, []) as never, message)
      : await this.peer.db.create(type, data, message)
    return this.document(doc.id)
  }

  async edit(id: string, body: unknown): Promise<DocumentDetail> {
    const edit = parseEdit(body)
    const entry = this.#entry(id)
    // Without app code for the type, the synced definition of the document's version checks the edit (kinds, allowed
    // values, defaults), as the app would: a relay's dashboard must not write what no version of the app can read.
    const definition = this.peer.db.definition(entry.type) ?? (await this.schemas.at(entry.type, await this.#versionOf(id)))
    const message = { message: `dashboard: ${edit.op} ${edit.path.join(".")}` }
    const fields = definition?.toJSON().fields
    await this.peer.db.change(definition ?? entry.type, id, draft => applyEdit(draft, edit, fields), message)
    return this.document(id)
  }

  async delete(id: string): Promise<{ id: string; deletedAt: number | null }> {
    this.#entry(id)
    await this.peer.db.delete(id, { message: "deleted in the dashboard" })
    return { id, deletedAt: this.peer.db.catalog.get(id)?.deletedAt ?? null }
  }

  /** Quarantined documents, most recently changed first. */
  quarantined(query: URLSearchParams): QuarantinedList {
    const all = this.peer.db.quarantined().sort((a, b) => b.modifiedAt - a.modifiedAt)
    return { total: all.length, docs: all.slice(0, parseWhole("limit", query.get("limit"), 1, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT)) }
  }

  async quarantinedDocument(id: string): Promise<QuarantinedDetail> {
    const summary = this.#quarantined(id)
    const { format: _, ...document } = await this.peer.db.quarantinedDocument(id)
    return { ...summary, document, definition: this.peer.db.definition(summary.type)?.toJSON() ?? null }
  }

  /** Check it again with the definitions here now; a QuarantinedError (409) says why it still fails. */
  async release(id: string): Promise<DocumentDetail> {
    this.#quarantined(id)
    await this.peer.db.releaseQuarantined(id)
    return this.document(id)
  }

  async drop(id: string): Promise<{ id: string; type: string }> {
    const { type } = this.#quarantined(id)
    await this.peer.db.dropQuarantined(id)
    return { id, type }
  }

  #quarantined(id: string): QuarantinedSummary {
    const entry = this.#entry(id)
    if (entry.purged) throw new NotFoundError(id)
    if (!entry.quarantined) throw new HttpError(404, `document ${id} is not quarantined; see GET /api/quarantine for those that are`)
    return { id, type: entry.type, reason: entry.quarantined, modifiedAt: entry.modifiedAt }
  }

  /** The version a document was created at (its stored shape's), from its envelope. */
  async #versionOf(id: string): Promise<number> {
    const version = (await this.peer.db.replica.store.read(id)).typeVersion
    return typeof version === "number" ? version : 1
  }

  #entry(id: string): CatalogEntry {
    const entry = this.peer.db.catalog.get(id)
    if (!entry) throw new NotFoundError(id)
    return entry
  }
}

/** The HTTP status for an error thrown while answering. */
export function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status
  if (error instanceof NotFoundError || error instanceof UnknownChangeError) return 404
  if (error instanceof PurgedError) return 410
  if (error instanceof QuarantinedError || error instanceof DeletedDocumentError) return 409
  if (
    error instanceof ValidationError ||
    error instanceof TypeDefinitionError ||
    error instanceof WrongTypeError ||
    error instanceof ImmutableTypeError ||
    error instanceof QueryError ||
    error instanceof RangeError
  )
    return 400
  if (error instanceof ClosedError) return 503
  return 500
}
