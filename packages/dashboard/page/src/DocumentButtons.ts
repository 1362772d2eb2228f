/** A middle-column list of documents, each a button that selects it: the shape both lists (a type's, the quarantine) share. */
import { type Child, fill, h } from "./dom.js"

export interface ListedDocuments<D extends { id: string }> {
  docs: D[]
  total: number
  selected: string | undefined
  /** Ids changed a moment ago: they flash. */
  fresh: Set<string>
}

/** Fill `list` with a button per document (`classes` and `content` say how each looks), and a line when more exist than shown. */
export function renderDocumentButtons<D extends { id: string }>(
  list: HTMLElement,
  state: ListedDocuments<D>,
  select: (id: string) => void,
  classes: (doc: D) => (string | false)[],
  content: (doc: D) => Child[],
): void {
  fill(
    list,
    state.docs.map(doc =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: ["doc", ...classes(doc), doc.id === state.selected && "selected", state.fresh.has(doc.id) && "fresh"]
              .filter(Boolean)
              .join(" "),
            "data-id": doc.id,
            "aria-current": doc.id === state.selected ? "true" : undefined,
            onClick: () => select(doc.id),
          },
          ...content(doc),
        ),
      ),
    ),
    state.docs.length < state.total ? h("li", { class: "empty" }, `Showing the ${state.docs.length} most recent of ${state.total}.`) : null,
  )
}
