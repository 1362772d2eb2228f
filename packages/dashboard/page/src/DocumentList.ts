/** The middle column: the documents of the selected type, most recently modified first. */
import type { DocumentSummary } from "./api.js"
import { renderDocumentButtons } from "./DocumentButtons.js"
import { fill, h } from "./dom.js"
import { shortId, timeAgo } from "./format.js"

export interface DocumentListState {
  type: string | undefined
  docs: DocumentSummary[]
  total: number
  selected: string | undefined
  /** Ids changed by a live update a moment ago: they flash. */
  fresh: Set<string>
}

export function renderDocuments(list: HTMLElement, heading: HTMLElement, state: DocumentListState, select: (id: string) => void): void {
  heading.textContent = state.type ? `${state.type} · ${state.total}` : "Documents"
  if (!state.type) {
    fill(list, h("li", { class: "empty" }, "Pick a type on the left."))
    return
  }
  if (state.docs.length === 0) {
    fill(list, h("li", { class: "empty" }, `No ${state.type} documents.`))
    return
  }
  renderDocumentButtons(
    list,
    state,
    select,
    doc => [doc.deletedAt !== null && "deleted"],
    doc => [
      h("span", { class: "doc-summary" }, doc.summary || h("em", {}, "(empty)")),
      h(
        "span",
        { class: "doc-meta" },
        h("code", {}, shortId(doc.id)),
        doc.deletedAt !== null ? " · deleted " : " · ",
        timeAgo(doc.deletedAt ?? doc.modifiedAt),
      ),
    ],
  )
}
