/**
 * The node peer's dashboard API (packages/node/src/dashboard), as the page
 * calls it. Shapes mirror the server's answers.
 */

export type TypeSelection = "*" | string[]
export type PeerState = "syncing" | "in-sync" | "closed"

export interface PeerView {
  peerId: string
  machineId: string
  name?: string
  wants: TypeSelection
  relay: boolean
  state: PeerState
  lastSyncAt: number | null
  sent: number
  received: number
  connected: boolean
}

export interface Connection {
  url: string
  status: string
  refusal?: string
}

export interface Overview {
  machine: { machineId: string; name: string | null; wants: TypeSelection; relay: boolean }
  types: { type: string; count: number; defined: boolean }[]
  schemas: Record<string, TypeDefinitionJSON>
  peers: PeerView[]
  connections: Connection[]
  /** How many documents are quarantined here. */
  quarantined: number
  now: number
}

export interface DocumentSummary {
  id: string
  type: string
  createdAt: number
  createdBy: string
  modifiedAt: number
  deletedAt: number | null
  summary: string
}

export interface HistoryEntry {
  hash: string
  machineId: string
  time: number
  message: string | null
}

export type FieldJSON =
  | { kind: "register"; of: "string" | "number" | "boolean" | "null"; optional?: true; default?: unknown; values?: readonly string[] }
  | { kind: "counter"; optional?: true; default?: number }
  | { kind: "text"; optional?: true; default?: string }
  | { kind: "map"; fields: Record<string, FieldJSON>; optional?: true }
  | { kind: "record"; of: FieldJSON; optional?: true }
  | { kind: "list"; of: FieldJSON; optional?: true }

export interface TypeDefinitionJSON {
  name: string
  version: number
  fields: Record<string, FieldJSON>
}

export interface DocumentDetail {
  document: {
    id: string
    type: string
    typeVersion: number
    createdAt: number
    createdBy: string
    modifiedAt: number
    deletedAt: number | null
    /** Tagged JSON: a string is a register, {"$text"} text, {"$counter"} a counter. */
    data: Record<string, unknown>
  }
  history: HistoryEntry[]
  definition: TypeDefinitionJSON | null
}

/** A document refused as it arrived, and why. */
export interface QuarantinedSummary {
  id: string
  type: string
  reason: string
  modifiedAt: number
}

export interface QuarantinedDetail extends QuarantinedSummary {
  /** As it is stored, in tagged JSON. */
  document: DocumentDetail["document"]
  /** The definition it is checked against here, if any. */
  definition: TypeDefinitionJSON | null
}

export type Path = (string | number)[]

export type Edit =
  | { op: "set"; path: Path; value: unknown }
  | { op: "incr"; path: Path; by: number }
  | { op: "splice"; path: Path; index: number; del: number; text: string }
  | { op: "settext"; path: Path; text: string }

/** An error answer from the API, with its message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const json = (await response.json().catch(() => ({}))) as { error?: string }
  if (!response.ok) throw new ApiError(response.status, json.error ?? `${method} ${path} failed with ${response.status}`)
  return json as T
}

export const api = {
  overview: () => call<Overview>("GET", "/api/overview"),
  documents: (type: string, deleted: boolean) => call<{ type: string; total: number; docs: DocumentSummary[] }>("GET", `/api/docs?type=${encodeURIComponent(type)}${deleted ? "&deleted=1" : ""}`),
  document: (id: string) => call<DocumentDetail>("GET", `/api/docs/${encodeURIComponent(id)}`),
  create: (type: string, data: unknown) => call<DocumentDetail>("POST", "/api/docs", { type, data }),
  edit: (id: string, edit: Edit) => call<DocumentDetail>("POST", `/api/docs/${encodeURIComponent(id)}/edit`, edit),
  remove: (id: string) => call<{ id: string; deletedAt: number | null }>("DELETE", `/api/docs/${encodeURIComponent(id)}`),
  quarantine: () => call<{ total: number; docs: QuarantinedSummary[] }>("GET", "/api/quarantine"),
  quarantined: (id: string) => call<QuarantinedDetail>("GET", `/api/quarantine/${encodeURIComponent(id)}`),
  release: (id: string) => call<DocumentDetail>("POST", `/api/quarantine/${encodeURIComponent(id)}/release`),
  drop: (id: string) => call<{ id: string; type: string }>("POST", `/api/quarantine/${encodeURIComponent(id)}/drop`),
}
