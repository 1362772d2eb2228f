/**
 * The right column for a quarantined document: why it was refused, what is
 * stored of it (read-only), and the two ways out: release (checked again
 * with the definitions here now) or drop (removed here for good).
 */
import type { QuarantinedDetail } from "./api.js"
import { confirmButton } from "./ConfirmButton.js"
import { renderData } from "./DataTree.js"
import { fill, h } from "./dom.js"
import { machineLabel, timeAgo } from "./format.js"

export interface QuarantineActions {
  release(id: string): Promise<void>
  drop(id: string): Promise<void>
}

/** What became of a document the page released or dropped, shown in its place. */
export interface QuarantineOutcome {
  id: string
  type: string
  state: "released" | "dropped"
}

export function renderQuarantined(
  panel: HTMLElement,
  detail: QuarantinedDetail,
  self: string,
  actions: QuarantineActions,
  error: string | undefined,
): void {
  const { id, type, reason, document: doc, definition } = detail
  const release = h("button", { type: "button", class: "primary", "data-action": "release" }, "Release")
  release.addEventListener("click", () => {
    release.disabled = true
    void actions.release(id)
  })
  const drop = confirmButton({
    key: `drop ${id}`,
    action: "drop",
    label: "Drop",
    confirm: "Click again to drop",
    run: () => void actions.drop(id),
  })
  fill(
    panel,
    h(
      "div",
      { class: "doc-head" },
      h(
        "div",
        {},
        h("h2", {}, type, " ", h("code", { class: "doc-id", title: id }, id)),
        h("span", { class: "badge quarantined" }, "quarantined"),
      ),
      h("div", { class: "actions" }, release, drop),
    ),
    h("p", { class: "quarantine-reason" }, h("strong", {}, "Refused on arrival: "), reason),
    error ? h("p", { class: "error", role: "alert" }, error) : null,
    h(
      "p",
      { class: "hint quarantine-hint" },
      "Release checks it again with the definitions here now and lists it if it passes. Drop removes it from this machine; it is not taken from peers again.",
    ),
    h(
      "dl",
      { class: "meta" },
      h("dt", {}, "created"),
      h("dd", {}, timeAgo(doc.createdAt), " by ", machineLabel(doc.createdBy, self)),
      h("dt", {}, "modified"),
      h("dd", {}, timeAgo(doc.modifiedAt)),
      h("dt", {}, "schema here"),
      h("dd", {}, definition ? `${definition.name} v${definition.version}` : h("span", { class: "muted" }, "none")),
    ),
    h("h3", {}, "Stored data ", h("span", { class: "muted" }, "read-only, as it arrived")),
    renderData(doc.data, undefined, async () => {}, true),
  )
}

export function renderOutcome(panel: HTMLElement, outcome: QuarantineOutcome, open: (type: string, id: string) => void): void {
  const released = outcome.state === "released"
  fill(
    panel,
    h(
      "div",
      { class: "placeholder outcome", "data-outcome": outcome.state },
      h(
        "p",
        {},
        released ? "Released " : "Dropped ",
        h("code", {}, outcome.id),
        released
          ? `: it passed the check and is listed under ${outcome.type} again.`
          : ": its body is gone from this machine, and it is not taken from peers again.",
      ),
      released ? h("button", { type: "button", onClick: () => open(outcome.type, outcome.id) }, `Open it in ${outcome.type}`) : null,
    ),
  )
}
