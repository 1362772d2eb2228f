/**
 * The JSON the dashboard API answers and accepts: the server builds these
 * (DashboardApi.ts) and the page reads them (page/src/api.ts imports these
 * types), so the two cannot drift apart.
 */
import type {
  CatalogEntry,
  DataPath,
  Edit as CoreEdit,
  ExportedDocument,
  FieldDiff,
  HistoryEntry,
  PeerStatus,
  PresenceEntry,
  TypeDefinitionJSON,
  TypeSelection,
} from "@cairn/core"
import type { Transport } from "@cairn/node"

export type { Transport } from "@cairn/node"
export type {
  FieldDiff,
  FieldJSON,
  HistoryEntry,
  PresenceEntry,
  PresenceLink,
  PeerStatus,
  TypeDefinitionJSON,
  TypeSelection,
} from "@cairn/core"

export interface Overview {
  machine: { machineId: string; name: string | null; wants: TypeSelection; relay: boolean }
  /**
   * Types with documents here, and types this peer has a schema for (count 0 when it has none of them); `defined`: the
   * app's own definition, `synced`: only a definition synced as a schema document. Schema documents are not a type here.
   */
  types: { type: string; count: number; defined: boolean; synced?: true }[]
  /** The schemas shown and created with, by type: the app's own (which this peer validates with), else the newest synced one. */
  schemas: Record<string, TypeDefinitionJSON>
  /** Where each of `schemas` comes from. */
  schemaSources: Record<string, "app" | "synced">
  peers: PeerView[]
  /** Servers this peer connects to, with how each connection stands. */
  connections: Connection[]
  /** How many documents are quarantined here (refused on arrival; see `quarantined()`). */
  quarantined: number
  /** The server's clock, so the page can show "synced 5 s ago" right. */
  now: number
}

/** A server this peer connects to, or a folder it syncs through, and how the link stands. */
export interface Connection {
  /** The server's URL, or `file://DIR` for a folder. */
  url: string
  /** How the link is carried (from the URL's scheme; "folder" for sync through a folder). */
  transport: Transport | "folder"
  /** A server's connection status; for a folder "watching" (cairn serve --folder), "synced" or "failed". */
  status: string
  refusal?: string
  /** A folder's last sync (ms), or null before the first. */
  lastSyncAt?: number | null
}

/** A peer as the dashboard shows it: its last status, and whether it is connected now. */
export interface PeerView extends PeerStatus {
  connected: boolean
  /** How the link to it is carried while it is connected (in either direction). */
  transport?: Transport
}

export interface DocumentSummary extends Pick<CatalogEntry, "id" | "type" | "createdAt" | "createdBy" | "modifiedAt" | "deletedAt"> {
  /** A line to show in a list: a title-like field, or the first value. */
  summary: string
  /** The top-level strings (clipped), numbers and booleans, for a list's columns. */
  cells: Record<string, string | number | boolean | null>
}

export interface DocumentDetail {
  document: Omit<ExportedDocument, "format">
  /** The newest changes (at most 50), newest first; `GET /api/docs/:id/history` pages through all of them with diffs. */
  history: HistoryEntry[]
  /** How many changes the document has. */
  changes: number
  definition: TypeDefinitionJSON | null
}

/** A change as the history shows it: who (by name where known), when, why, and what it changed. */
export interface ChangeView extends HistoryEntry {
  machineName?: string
  diff: FieldDiff[]
}

/** A page of `GET /api/docs/:id/history`, newest change first. */
export interface HistoryPage {
  id: string
  total: number
  offset: number
  limit: number
  changes: ChangeView[]
}

/** `GET /api/docs/:id/at/:hash`: the document as it was just after one change (read-only). */
export interface VersionView {
  document: Omit<ExportedDocument, "format">
  change: HistoryEntry & { machineName?: string }
  definition: TypeDefinitionJSON | null
}

/** A document refused as it arrived, and why. */
export interface QuarantinedSummary {
  id: string
  type: string
  reason: string
  modifiedAt: number
}

/** A quarantined document with what is stored of it (tagged JSON, as an export has it), and the definition it is checked against here. */
export interface QuarantinedDetail extends QuarantinedSummary {
  document: Omit<ExportedDocument, "format">
  definition: TypeDefinitionJSON | null
}

/** A page of `GET /api/docs?type=T` (&q, &where, &sort, &order, &offset, &limit, &deleted). */
export interface DocumentList {
  type: string
  /** How many documents match in all (the page is `docs`). */
  total: number
  offset: number
  limit: number
  /** The column the page is sorted by: "id", "createdAt", "modifiedAt" or a field path. */
  sort: string
  order: "asc" | "desc"
  docs: DocumentSummary[]
  /**
   * Present while the index is still reading the type's documents (the first
   * search of a large type): `total` and `docs` are over the `read` so far of
   * `of`; ask again for the rest.
   */
  indexing?: { read: number; of: number }
}

/** A page of `GET /api/quarantine`. */
export interface QuarantinedList {
  total: number
  docs: QuarantinedSummary[]
}

export type Path = DataPath

/** A change the page makes to a document (`POST /api/docs/:id/edit`): the edits of the CLI, but "unset". */
export type Edit = Exclude<CoreEdit, { op: "unset" }>

/** `GET /api/presence` and the `presence` event: every machine this peer's presence sees, this machine first. */
export interface PresenceView {
  /** This machine. */
  machineId: string
  machines: PresenceEntry[]
  now: number
}
