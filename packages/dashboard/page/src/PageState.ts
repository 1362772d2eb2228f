/**
 * What the dashboard page shows and where: its elements, the state every
 * part draws from, and the address, which says what is selected (#/type/id)
 * so links and reloads work.
 */
import {
  ApiError,
  type ChangeView,
  type DocumentDetail,
  type DocumentSummary,
  type Overview,
  type PresenceView,
  type QuarantinedDetail,
  type QuarantinedSummary,
  type VersionView,
} from "./api.js"
import { byId } from "./dom.js"
import type { QuarantineOutcome } from "./QuarantinePanel.js"

export const view = {
  machine: byId("machine"),
  live: byId("live"),
  types: byId("types"),
  documents: byId("documents"),
  documentsHeading: byId("documents-heading"),
  finder: byId("finder"),
  typeSchema: byId("type-schema"),
  showDeleted: byId<HTMLInputElement>("show-deleted"),
  document: byId("document"),
  graph: byId("graph"),
  peerTable: byId("peer-table"),
  mismatches: byId("mismatches"),
  dialog: byId<HTMLDialogElement>("create-dialog"),
  newDocument: byId<HTMLButtonElement>("new-document"),
}

/** The quarantine's place in the address: no type name starts with "!". */
export const QUARANTINE = "!quarantine"

export const state = {
  overview: undefined as Overview | undefined,
  type: undefined as string | undefined,
  id: undefined as string | undefined,
  docs: [] as DocumentSummary[],
  total: 0,
  indexing: undefined as { read: number; of: number } | undefined,
  offset: 0,
  sort: "modifiedAt",
  order: "desc" as "asc" | "desc",
  /** The document's changes loaded so far (newest first, with diffs), and how many it has. */
  changes: [] as ChangeView[],
  changesTotal: 0,
  /** The past version open in the panel, if any. */
  version: undefined as VersionView | undefined,
  presence: undefined as PresenceView | undefined,
  detail: undefined as DocumentDetail | undefined,
  documentError: undefined as string | undefined,
  fresh: new Set<string>(),
  /** Undefined until the quarantine's list has loaded. */
  quarantine: undefined as { docs: QuarantinedSummary[]; total: number } | undefined,
  quarantined: undefined as QuarantinedDetail | undefined,
  /** A document this page saw released or dropped, said in the panel until something else is picked. */
  outcome: undefined as QuarantineOutcome | undefined,
}

export const inQuarantine = (): boolean => state.type === QUARANTINE

/** Select a type (and a document of it): the address changes, and the page follows it. */
export function go(type: string | undefined, id?: string): void {
  const hash = type ? `#/${encodeURIComponent(type)}${id ? `/${encodeURIComponent(id)}` : ""}` : ""
  if (location.hash !== hash) location.hash = hash
}

/** What an error says, for the panel. */
export const message = (error: unknown): string => (error instanceof ApiError ? error.message : String(error))
