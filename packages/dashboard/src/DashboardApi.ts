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
  ValidationError,
  WrongTypeError,
  assertTypeName,
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
  DocumentSummary,
  Overview,
  PeerView,
  QuarantinedDetail,
  QuarantinedList,
  QuarantinedSummary,
} from "./shapes.js"
import { HttpError, isObject } from "./http.js"
import type { PeerMemory } from "./PeerMemory.js"

const DEFAULT_LIST_LIMIT = 200
const MAX_LIST_LIMIT = 5000
const TITLE_KEYS = ["title", "name", "label", "subject", "summary", "text", "body"]

export class DashboardApi {
  constructor(
    private readonly peer: NodePeer,
    private readonly memory: PeerMemory,
  ) {}

  async overview(): Promise<Overview> {
    const { db, replicator, network, directory } = this.peer
    const schemas: Record<string, TypeDefinitionJSON> = {}
    for (const saved of await directory.types()) {
      const definition = db.definition(saved.name)
      if (definition) schemas[definition.name] = definition.toJSON()
    }
    const counts = new Map([...Object.keys(schemas).map(type => [type, 0] as const), ...db.types().map(t => [t.type, t.count] as const)])
    return {
      machine: { machineId: db.machine.machineId, name: db.machine.name ?? null, wants: replicator.wants, relay: replicator.relay },
      types: [...counts]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([type, count]) => ({ type, count, defined: db.definition(type) !== undefined })),
      schemas,
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

  async list(query: URLSearchParams): Promise<DocumentList> {
    const type = query.get("type")
    if (!type) throw new HttpError(400, `say which type: GET /api/docs?type=NAME`)
    assertTypeName(type)
    const includeDeleted = ["1", "true"].includes(query.get("deleted") ?? "")
    const limit = parseLimit(query.get("limit"))
    const { catalog } = this.peer.db
    const entries = [...catalog.idsOfType(type)]
      .map(id => catalog.get(id)!)
      .filter(entry => isVisible(entry, { includeDeleted }))
      .sort((a, b) => b.modifiedAt - a.modifiedAt)
    const docs = await Promise.all(entries.slice(0, limit).map(entry => this.#summarize(entry)))
    return { type, total: entries.length, docs: docs.filter(d => d !== undefined) }
  }

  async document(id: string): Promise<DocumentDetail> {
    const { db } = this.peer
    const [exported, history] = await Promise.all([db.exportDocument(id), db.history(id)])
    const { format: _, ...document } = exported
    const definition = db.definition(document.type)?.toJSON()
    // A document made without the definition (by the CLI, say) shows, as the app reads it, the defaults of the fields it lacks.
    if (definition)
      document.data = toTagged(withDefaults({ kind: "map", fields: definition.fields }, fromTagged(document.data, []))) as Record<
        string,
        unknown
      >
    return { document, history: history.reverse(), definition: definition ?? null }
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
    const definition = this.peer.db.definition(type)
    const input = definition
      ? (untagForField({ kind: "map", fields: definition.toJSON().fields }, data, []) as Record<string, unknown>)
      : data
    const doc = await this.peer.db.create(type, input, { message: "created in the dashboard" })
    return this.document(doc.id)
  }

  async edit(id: string, body: unknown): Promise<DocumentDetail> {
    const edit = parseEdit(body)
    const entry = this.#entry(id)
    const fields = this.peer.db.definition(entry.type)?.toJSON().fields
    await this.peer.db.change(entry.type, id, draft => applyEdit(draft, edit, fields), {
      message: `dashboard: ${edit.op} ${edit.path.join(".")}`,
    })
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
    return { total: all.length, docs: all.slice(0, parseLimit(query.get("limit"))) }
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

  #entry(id: string): CatalogEntry {
    const entry = this.peer.db.catalog.get(id)
    if (!entry) throw new NotFoundError(id)
    return entry
  }

  async #summarize(entry: CatalogEntry): Promise<DocumentSummary | undefined> {
    try {
      const doc = await this.peer.db.get(entry.id)
      return {
        id: entry.id,
        type: entry.type,
        createdAt: entry.createdAt,
        createdBy: entry.createdBy,
        modifiedAt: entry.modifiedAt,
        deletedAt: entry.deletedAt,
        summary: summarize(doc.data),
      }
    } catch {
      // Purged or quarantined between listing and reading: leave it out.
      return undefined
    }
  }
}

/** The HTTP status for an error thrown while answering. */
export function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status
  if (error instanceof NotFoundError) return 404
  if (error instanceof PurgedError) return 410
  if (error instanceof QuarantinedError || error instanceof DeletedDocumentError) return 409
  if (
    error instanceof ValidationError ||
    error instanceof TypeDefinitionError ||
    error instanceof WrongTypeError ||
    error instanceof ImmutableTypeError ||
    error instanceof RangeError
  )
    return 400
  if (error instanceof ClosedError) return 503
  return 500
}

function parseLimit(raw: string | null): number {
  if (raw === null) return DEFAULT_LIST_LIMIT
  const limit = Number(raw)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)
    throw new HttpError(400, `"limit" must be a whole number from 1 to ${MAX_LIST_LIMIT} (got ${JSON.stringify(raw)})`)
  return limit
}

/** One line for a document in a list: a title-like field, else the first string, else the first fields. */
export function summarize(data: Record<string, unknown>): string {
  const clip = (text: string) => (text.length > 80 ? `${text.slice(0, 79)}…` : text)
  for (const key of TITLE_KEYS) {
    const value = data[key]
    if (typeof value === "string" && value.trim()) return clip(value.trim().split("\n")[0]!)
  }
  for (const value of Object.values(data)) {
    if (typeof value === "string" && value.trim()) return clip(value.trim().split("\n")[0]!)
  }
  const scalars = Object.entries(data).filter(([, value]) => typeof value !== "object" || value === null)
  return clip(scalars.map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join(", "))
}
