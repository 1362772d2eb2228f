/** The middle column when the quarantine is open: documents refused as they arrived, with why. */
import type { QuarantinedSummary } from "./api.js"
import { renderDocumentButtons } from "./DocumentButtons.js"
import { fill, h } from "./dom.js"
import { shortId, timeAgo } from "./format.js"

export interface QuarantineListState {
  docs: QuarantinedSummary[]
  total: number
  selected: string | undefined
  /** Ids quarantined a moment ago: they flash. */
  fresh: Set<string>
}

/** `state` is undefined while the list loads. */
export function renderQuarantineList(
  list: HTMLElement,
  heading: HTMLElement,
  state: QuarantineListState | undefined,
  select: (id: string) => void,
): void {
  heading.textContent = state ? `Quarantined · ${state.total}` : "Quarantined"
  if (!state) {
    fill(list, h("li", { class: "empty" }, "Loading…"))
    return
  }
  if (state.docs.length === 0) {
    fill(list, h("li", { class: "empty" }, "Nothing is quarantined."))
    return
  }
  renderDocumentButtons(
    list,
    state,
    select,
    () => ["quarantined"],
    doc => [
      h(
        "span",
        { class: "doc-summary" },
        h("span", { class: "type-tag" }, doc.type),
        " ",
        h("code", { title: doc.id }, shortId(doc.id, 12)),
      ),
      h("span", { class: "reason" }, doc.reason),
      h("span", { class: "doc-meta" }, "modified ", timeAgo(doc.modifiedAt)),
    ],
  )
}
