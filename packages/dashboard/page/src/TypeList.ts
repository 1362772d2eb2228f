/**
 * The left column: every type this peer holds, with how many live documents
 * each has, and, when any document was refused on arrival, the quarantine.
 */
import type { Overview } from "./api.js"
import { fill, h } from "./dom.js"

export interface QuarantineEntry {
  count: number
  selected: boolean
  open(): void
}

export function renderTypes(
  list: HTMLElement,
  types: Overview["types"],
  selected: string | undefined,
  select: (type: string) => void,
  quarantine: QuarantineEntry,
): void {
  // Shown while anything is quarantined, and while it is open (so emptying it does not pull it away).
  const entry =
    quarantine.count > 0 || quarantine.selected
      ? h(
          "li",
          { class: "quarantine-entry" },
          h(
            "button",
            {
              type: "button",
              class: quarantine.selected ? "type quarantine selected" : "type quarantine",
              "aria-current": quarantine.selected ? "true" : undefined,
              onClick: quarantine.open,
            },
            h("span", { class: "type-name" }, `Quarantined (${quarantine.count})`),
          ),
        )
      : null
  if (types.length === 0) {
    fill(
      list,
      h(
        "li",
        { class: "empty" },
        "No documents yet. Create one with ",
        h("strong", {}, "New document"),
        " or ",
        h("code", {}, "cairn create"),
        ".",
      ),
      entry,
    )
    return
  }
  fill(
    list,
    types.map(({ type, count, defined, synced }) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: type === selected ? "type selected" : "type",
            "data-type": type,
            "aria-current": type === selected ? "true" : undefined,
            onClick: () => select(type),
          },
          h("span", { class: "type-name" }, type),
          defined ? h("span", { class: "badge", title: "this peer has a schema for the type" }, "schema") : null,
          synced
            ? h(
                "span",
                { class: "badge synced", title: "a schema synced from peers: this peer has no app code for the type" },
                "synced schema",
              )
            : null,
          h("span", { class: "count" }, count),
        ),
      ),
    ),
    entry,
  )
}
