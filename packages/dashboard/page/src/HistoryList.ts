/**
 * A document's changes as a person reads them: newest first, each with its
 * message, when, which machine (by name where known) and what it changed,
 * field by field, with a way to open the document as it was after it.
 */
import type { ChangeView, FieldDiff } from "./api.js"
import { type Child, h } from "./dom.js"
import { shortId, timeAgo } from "./format.js"

export interface HistoryActions {
  /** Open the document as it was just after the change `hash`. */
  viewAt(hash: string): void
  /** Load the next page of older changes. */
  older(): void
}

export function renderHistory(
  changes: ChangeView[],
  total: number,
  machine: (id: string, name?: string) => HTMLElement,
  viewing: string | undefined,
  actions: HistoryActions,
): Child[] {
  return [
    h("h3", {}, "History ", h("span", { class: "muted" }, `${total} change${total === 1 ? "" : "s"}`)),
    h(
      "ol",
      { class: "history" },
      changes.map(change =>
        h(
          "li",
          { "data-hash": change.hash, class: change.hash === viewing ? "viewing" : undefined },
          h(
            "div",
            { class: "history-line" },
            h("span", { class: "history-message" }, change.message ?? h("span", { class: "muted" }, "(no message)")),
            h(
              "button",
              {
                type: "button",
                class: "view-at",
                "aria-label": `view as of ${shortId(change.hash)}`,
                onClick: () => actions.viewAt(change.hash),
              },
              "view",
            ),
          ),
          h(
            "span",
            { class: "history-meta" },
            timeAgo(change.time),
            " · ",
            machine(change.machineId, change.machineName),
            " · ",
            h("code", { title: change.hash }, shortId(change.hash)),
          ),
          change.diff.length
            ? h("ul", { class: "diff" }, change.diff.map(diffLine))
            : h("p", { class: "muted diff-none" }, "no field changed"),
        ),
      ),
    ),
    changes.length < total
      ? h(
          "button",
          { type: "button", class: "older", onClick: () => actions.older() },
          `Show older changes (${total - changes.length} more)`,
        )
      : null,
  ]
}

function diffLine(diff: FieldDiff): HTMLElement {
  const path = diff.path.join(".")
  return h(
    "li",
    { class: `diff-${diff.change} kind-${diff.kind}`, "data-path": path },
    h("code", { class: "diff-path" }, path),
    " ",
    h("span", { class: "diff-kind" }, diff.kind),
    " ",
    diffBody(diff),
  )
}

function diffBody(diff: FieldDiff): HTMLElement {
  if (diff.change === "added") return h("span", { class: "diff-values" }, "added ", value(diff.after, "after"))
  if (diff.change === "removed") return h("span", { class: "diff-values" }, "removed ", value(diff.before, "before"))
  if (diff.kind === "counter" && diff.by !== undefined)
    return h(
      "span",
      { class: "diff-values" },
      h("ins", {}, diff.by >= 0 ? `+${diff.by}` : String(diff.by)),
      ` (${diff.before} → ${diff.after})`,
    )
  if (diff.kind === "text" && diff.text) {
    const { at, deleted, inserted } = diff.text
    return h(
      "span",
      { class: "diff-values" },
      `at ${at}: `,
      deleted ? h("del", {}, clip(deleted)) : null,
      inserted ? h("ins", {}, clip(inserted)) : null,
    )
  }
  return h("span", { class: "diff-values" }, value(diff.before, "before"), " → ", value(diff.after, "after"))
}

function value(v: unknown, role: "before" | "after"): HTMLElement {
  return h(role === "before" ? "del" : "ins", {}, clip(typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? "nothing")))
}

function clip(text: string): string {
  return text.length > 120 ? `${text.slice(0, 119)}…` : text
}
