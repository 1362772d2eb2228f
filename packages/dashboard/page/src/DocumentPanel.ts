/** The right column: one document's metadata, its data as an editable tree, its history, and delete. */
import type { DocumentDetail, Edit } from "./api.js"
import { confirmButton } from "./ConfirmButton.js"
import { renderData, restoreUnsaved, unsavedIn } from "./DataTree.js"
import { fill, h } from "./dom.js"
import { machineLabel, shortId, timeAgo } from "./format.js"

export interface DocumentActions {
  edit(id: string, edit: Edit): Promise<void>
  remove(id: string): Promise<void>
}

export function renderEmptyDocument(panel: HTMLElement, message: string): void {
  fill(panel, h("div", { class: "placeholder" }, message))
}

export function renderDocument(
  panel: HTMLElement,
  detail: DocumentDetail,
  self: string,
  actions: DocumentActions,
  error: string | undefined,
): void {
  const { document: doc, history, definition } = detail
  const unsaved = unsavedIn(panel)
  const machine = (id: string) => machineLabel(id, self)
  const deleted = doc.deletedAt !== null
  const save = (edit: Edit) => actions.edit(doc.id, edit)

  const deleteButton = confirmButton({
    key: `delete ${doc.id}`,
    action: "delete",
    label: "Delete",
    confirm: "Click again to delete",
    done: deleted ? "Deleted" : undefined,
    run: () => void actions.remove(doc.id),
  })

  fill(
    panel,
    h(
      "div",
      { class: "doc-head" },
      h(
        "div",
        {},
        h("h2", {}, doc.type, " ", h("code", { class: "doc-id", title: doc.id }, doc.id)),
        deleted ? h("span", { class: "badge deleted" }, "deleted") : null,
      ),
      deleteButton,
    ),
    error ? h("p", { class: "error", role: "alert" }, error) : null,
    h(
      "dl",
      { class: "meta" },
      h("dt", {}, "created"),
      h("dd", {}, timeAgo(doc.createdAt), " by ", machine(doc.createdBy)),
      h("dt", {}, "modified"),
      h("dd", {}, timeAgo(doc.modifiedAt)),
      deleted ? [h("dt", {}, "deleted"), h("dd", {}, timeAgo(doc.deletedAt!))] : null,
      h("dt", {}, "schema"),
      h(
        "dd",
        {},
        definition
          ? `${definition.name} v${definition.version}`
          : h("span", { class: "muted" }, "none on this peer (kinds come from the data)"),
      ),
    ),
    h("h3", {}, "Data"),
    renderData(doc.data, definition?.fields, save, deleted),
    h("h3", {}, "History ", h("span", { class: "muted" }, `${history.length} change${history.length === 1 ? "" : "s"}`)),
    h(
      "ol",
      { class: "history" },
      history.map(change =>
        h(
          "li",
          {},
          h("span", { class: "history-message" }, change.message ?? h("span", { class: "muted" }, "(no message)")),
          h(
            "span",
            { class: "history-meta" },
            timeAgo(change.time),
            " · ",
            machine(change.machineId),
            " · ",
            h("code", { title: change.hash }, shortId(change.hash)),
          ),
        ),
      ),
    ),
  )
  restoreUnsaved(panel, unsaved)
}
