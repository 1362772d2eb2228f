/**
 * The dashboard API (../../src/DashboardApi.ts), as the page calls it. The
 * shapes are the server's own types (../../src/shapes.ts), imported as
 * types only: nothing of the server is bundled into the page.
 */
import type {
  DocumentDetail,
  DocumentList,
  Edit,
  HistoryPage,
  Overview,
  PresenceView,
  QuarantinedDetail,
  QuarantinedList,
  VersionView,
} from "../../src/shapes.js"

export type {
  ChangeView,
  Connection,
  DocumentList,
  FieldDiff,
  HistoryPage,
  PresenceEntry,
  PresenceLink,
  PresenceView,
  VersionView,
  DocumentDetail,
  DocumentSummary,
  Edit,
  FieldJSON,
  HistoryEntry,
  Overview,
  Path,
  PeerView,
  QuarantinedDetail,
  QuarantinedSummary,
  Transport,
  TypeDefinitionJSON,
  TypeSelection,
} from "../../src/shapes.js"

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
  /** A page of a type's documents; `query` holds q, where (JSON), sort, order, offset, limit, deleted. */
  documents: (type: string, query: Record<string, string>) =>
    call<DocumentList>("GET", `/api/docs?${new URLSearchParams({ type, ...query })}`),
  history: (id: string, offset: number, limit: number) =>
    call<HistoryPage>("GET", `/api/docs/${encodeURIComponent(id)}/history?offset=${offset}&limit=${limit}`),
  version: (id: string, hash: string) => call<VersionView>("GET", `/api/docs/${encodeURIComponent(id)}/at/${encodeURIComponent(hash)}`),
  restore: (id: string, hash: string, path: (string | number)[]) =>
    call<DocumentDetail>("POST", `/api/docs/${encodeURIComponent(id)}/restore`, { hash, path }),
  presence: () => call<PresenceView>("GET", "/api/presence"),
  document: (id: string) => call<DocumentDetail>("GET", `/api/docs/${encodeURIComponent(id)}`),
  create: (type: string, data: unknown) => call<DocumentDetail>("POST", "/api/docs", { type, data }),
  edit: (id: string, edit: Edit) => call<DocumentDetail>("POST", `/api/docs/${encodeURIComponent(id)}/edit`, edit),
  remove: (id: string) => call<{ id: string; deletedAt: number | null }>("DELETE", `/api/docs/${encodeURIComponent(id)}`),
  quarantine: () => call<QuarantinedList>("GET", "/api/quarantine"),
  quarantined: (id: string) => call<QuarantinedDetail>("GET", `/api/quarantine/${encodeURIComponent(id)}`),
  release: (id: string) => call<DocumentDetail>("POST", `/api/quarantine/${encodeURIComponent(id)}/release`),
  drop: (id: string) => call<{ id: string; type: string }>("POST", `/api/quarantine/${encodeURIComponent(id)}/drop`),
}
