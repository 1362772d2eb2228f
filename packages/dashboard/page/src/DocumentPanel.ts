/**
 * The right column: one document's metadata, its data as an editable tree,
 * its history with what each change did, and delete; or, opened at a
 * change, the document as it was then, read-only, with a way to restore a
 * field from it.
 */
import type { ChangeView, DocumentDetail, Edit, VersionView } from "./api.js"
import { confirmButton } from "./ConfirmButton.js"
import { renderData, restoreUnsaved, unsavedIn } from "./DataTree.js"
import { type Child, fill, h } from "./dom.js"
import { machineLabel, shortId, timeAgo } from "./format.js"
import { renderHistory, type HistoryActions } from "./HistoryList.js"

export interface DocumentActions extends HistoryActions {
  edit(id: string, edit: Edit): Promise<void>
  remove(id: string): Promise<void>
  /** Back from a past version to the document as it is. */
  now(): void
  /** Write `field` as it was in the version shown, as a new change. */
  restore(id: string, hash: string, field: string): Promise<void>
}

/** What the panel shows besides the document: its history so far, and the past version open, if any. */
export interface DocumentPast {
  changes: ChangeView[]
  total: number
  version: VersionView | undefined
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
  past: DocumentPast,
): void {
  const { document: doc, definition } = detail
  const unsaved = unsavedIn(panel)
  const machine = (id: string, name?: string) => machineLabel(id, self, name)
  const history = renderHistory(past.changes, past.total, machine, past.version?.change.hash, actions)
  if (past.version) return renderVersion(panel, detail, past.version, machine, actions, error, history)
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
    history,
  )
  restoreUnsaved(panel, unsaved)
}

/** The document as it was after one change: read-only, under a banner that says so, each field with a restore button. */
function renderVersion(
  panel: HTMLElement,
  detail: DocumentDetail,
  version: VersionView,
  machine: (id: string, name?: string) => HTMLElement,
  actions: DocumentActions,
  error: string | undefined,
  history: Child[],
): void {
  const { change, document: then } = version
  const fields = [...new Set([...Object.keys(then.data), ...Object.keys(detail.document.data)])]
  fill(
    panel,
    h("div", { class: "doc-head" }, h("h2", {}, then.type, " ", h("code", { class: "doc-id", title: then.id }, then.id))),
    h(
      "div",
      { class: "as-of", role: "status" },
      h(
        "p",
        {},
        h("strong", {}, "As of "),
        timeAgo(change.time),
        ` (${new Date(change.time).toLocaleString()}) · `,
        change.message ?? h("span", { class: "muted" }, "(no message)"),
        " · ",
        machine(change.machineId, change.machineName),
        " · ",
        h("code", { title: change.hash }, shortId(change.hash)),
        h("span", { class: "muted" }, " — read-only"),
      ),
      h("button", { type: "button", class: "primary", onClick: () => actions.now() }, "Back to now"),
    ),
    error ? h("p", { class: "error", role: "alert" }, error) : null,
    h("h3", {}, "Data then"),
    renderData(then.data, version.definition?.fields, async () => {}, true),
    h("h3", {}, "Restore a field ", h("span", { class: "hint" }, "writes its value from this version as a new change")),
    h(
      "ul",
      { class: "restore-list" },
      fields.map(field =>
        h(
          "li",
          {},
          h("code", {}, field),
          field in then.data ? null : h("span", { class: "muted" }, " (absent then: restoring removes it)"),
          h(
            "button",
            {
              type: "button",
              "aria-label": `restore ${field}`,
              onClick: () => void actions.restore(then.id, change.hash, field),
            },
            "Restore",
          ),
        ),
      ),
    ),
    history,
  )
}
