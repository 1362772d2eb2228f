/**
 * The middle column: one page of the selected type's documents as the
 * server found and sorted them, with column headers that sort, and the
 * page's place among all that match.
 */
import type { DocumentSummary, FieldJSON } from "./api.js"
import { renderDocumentButtons } from "./DocumentButtons.js"
import { fill, h } from "./dom.js"
import { shortId, timeAgo } from "./format.js"

export interface DocumentListState {
  type: string | undefined
  docs: DocumentSummary[]
  total: number
  offset: number
  sort: string
  order: "asc" | "desc"
  /** The type's declared fields, if this peer has its definition. */
  fields: Record<string, FieldJSON> | undefined
  /** True while something is searched for or filtered. */
  narrowed: boolean
  /** While the server's index is still reading the type: the page is over those read so far. */
  indexing: { read: number; of: number } | undefined
  selected: string | undefined
  /** Ids changed by a live update a moment ago: they flash. */
  fresh: Set<string>
}

export interface DocumentListActions {
  select(id: string): void
  sortBy(column: string): void
  page(offset: number): void
}

/** Columns besides the summary: at most this many fields. */
const FIELD_COLUMNS = 3
const TITLE_FIELDS = ["title", "name", "label", "subject"]

export function renderDocuments(
  list: HTMLElement,
  heading: HTMLElement,
  state: DocumentListState,
  actions: DocumentListActions,
  pageSize: number,
): void {
  heading.textContent = state.type ? `${state.type} · ${state.total}` : "Documents"
  if (!state.type) return fill(list, h("li", { class: "empty" }, "Pick a type on the left."))
  const columns = columnsOf(state)
  const header = h(
    "li",
    { class: "doc-columns", role: "row" },
    [...columns.map(column => [column, column] as const), ["modifiedAt", "modified"] as const].map(([column, label]) => {
      const sorted = state.sort === column
      return h(
        "button",
        {
          type: "button",
          class: `sort${sorted ? " sorted" : ""}`,
          "data-sort": column,
          "aria-sort": sorted ? (state.order === "asc" ? "ascending" : "descending") : "none",
          title: `sort by ${label}`,
          onClick: () => actions.sortBy(column),
        },
        label,
        sorted ? (state.order === "asc" ? " ▲" : " ▼") : "",
      )
    }),
  )
  const reading = state.indexing
    ? h(
        "li",
        { class: "indexing", role: "status" },
        `Still reading documents: ${state.indexing.read.toLocaleString()} of ${state.indexing.of.toLocaleString()} so far. The results fill in as they are read.`,
      )
    : null
  if (state.docs.length === 0) {
    const none = state.narrowed ? `No ${state.type} document matches.` : `No ${state.type} documents.`
    return fill(list, header, reading, h("li", { class: "empty" }, none))
  }
  // The summary line already shows a title-like field.
  const cellColumns = columns.filter(column => !TITLE_FIELDS.includes(column) || column === state.sort)
  renderDocumentButtons(
    list,
    { ...state, total: state.docs.length },
    actions.select,
    doc => [doc.deletedAt !== null && "deleted"],
    doc => [
      h("span", { class: "doc-summary" }, doc.summary || h("em", {}, "(empty)")),
      cellColumns.length
        ? h(
            "span",
            { class: "doc-cells" },
            cellColumns.map(column => h("span", { class: "cell", "data-column": column }, cellText(doc, column))),
          )
        : null,
      h(
        "span",
        { class: "doc-meta" },
        h("code", {}, shortId(doc.id)),
        doc.deletedAt !== null ? " · deleted " : " · ",
        timeAgo(doc.deletedAt ?? doc.modifiedAt),
      ),
    ],
  )
  list.prepend(header, ...(reading ? [reading] : []))
  list.append(pager(state, actions, pageSize))
}

/** The fields shown as columns: the sorted field first, then the declared (or first seen) scalar fields. */
function columnsOf(state: DocumentListState): string[] {
  const declared = Object.entries(state.fields ?? {})
    .filter(([, field]) => field.kind === "register" || field.kind === "counter" || field.kind === "text")
    .map(([name]) => name)
  const seen = declared.length ? declared : [...new Set(state.docs.flatMap(doc => Object.keys(doc.cells)))]
  const sortedField = ["id", "createdAt", "modifiedAt"].includes(state.sort) ? [] : [state.sort]
  return [...new Set([...seen.slice(0, FIELD_COLUMNS), ...sortedField])]
}

function cellText(doc: DocumentSummary, column: string): string {
  const value = doc.cells[column]
  if (value === undefined) return `${column}: —`
  return `${column}: ${typeof value === "string" ? value : JSON.stringify(value)}`
}

function pager(state: DocumentListState, actions: DocumentListActions, pageSize: number): HTMLElement {
  const first = state.offset + 1
  const last = state.offset + state.docs.length
  const lastPage = Math.max(0, Math.floor((state.total - 1) / pageSize) * pageSize)
  const button = (label: string, offset: number, disabled: boolean) =>
    h("button", { type: "button", disabled, "aria-label": `${label} page`, onClick: () => actions.page(offset) }, label)
  return h(
    "li",
    { class: "pager" },
    button("first", 0, state.offset === 0),
    button("previous", state.offset - pageSize, state.offset === 0),
    h("span", { class: "page-place" }, `${first}–${last} of ${state.total}`),
    button("next", state.offset + pageSize, last >= state.total),
    button("last", lastPage, last >= state.total),
  )
}
