/** The left column: every type this peer holds, with how many live documents each has. */
import type { Overview } from "./api.js"
import { fill, h } from "./dom.js"

export function renderTypes(list: HTMLElement, types: Overview["types"], selected: string | undefined, select: (type: string) => void): void {
  if (types.length === 0) {
    fill(list, h("li", { class: "empty" }, "No documents yet. Create one with ", h("strong", {}, "New document"), " or ", h("code", {}, "cairn create"), "."))
    return
  }
  fill(
    list,
    types.map(({ type, count, defined }) =>
      h(
        "li",
        {},
        h(
          "button",
          { type: "button", class: type === selected ? "type selected" : "type", "data-type": type, "aria-current": type === selected ? "true" : undefined, onClick: () => select(type) },
          h("span", { class: "type-name" }, type),
          defined ? h("span", { class: "badge", title: "this peer has a schema for the type" }, "schema") : null,
          h("span", { class: "count" }, count),
        ),
      ),
    ),
  )
}
