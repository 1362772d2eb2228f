/**
 * A document's data as an editable tree. The data is tagged JSON, so each
 * value shows its kind: registers edit inline (saved on Enter or when the
 * field loses focus), counters have − and + (increments, which merge), text
 * is a textarea saved as a text edit (a minimal splice, which merges too).
 */
import type { Edit, FieldJSON, Path } from "./api.js"
import { h } from "./dom.js"

export type SaveEdit = (edit: Edit) => Promise<void>

type Kind = "register" | "counter" | "text" | "map" | "list"

function tagged(value: unknown, tag: string): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && tag in value
}

function kindOf(value: unknown): Kind {
  if (Array.isArray(value)) return "list"
  if (tagged(value, "$counter")) return "counter"
  if (tagged(value, "$text")) return "text"
  if (typeof value === "object" && value !== null) return "map"
  return "register"
}

/** A map's or list's entries; a map's in the order its schema declares them (Automerge keeps keys sorted). */
function entriesOf(value: unknown, field?: FieldJSON): [string | number, unknown][] {
  if (Array.isArray(value)) return value.map((item, i) => [i, item])
  const map = tagged(value, "$map") ? (value as { $map: Record<string, unknown> }).$map : (value as Record<string, unknown>)
  const declared = field?.kind === "map" ? Object.keys(field.fields) : []
  const rank = (key: string) => (declared.includes(key) ? declared.indexOf(key) : declared.length)
  return Object.entries(map).sort(([a], [b]) => rank(a) - rank(b))
}

function childField(field: FieldJSON | undefined, key: string | number): FieldJSON | undefined {
  if (!field) return undefined
  if (field.kind === "map") return typeof key === "string" ? field.fields[key] : undefined
  if (field.kind === "record" || field.kind === "list") return field.of
  return undefined
}

/** The tree for a document's data; `save` sends one edit and resolves when the server took it. */
export function renderData(
  data: Record<string, unknown>,
  fields: Record<string, FieldJSON> | undefined,
  save: SaveEdit,
  readOnly: boolean,
): HTMLElement {
  const root: FieldJSON | undefined = fields ? { kind: "map", fields } : undefined
  const rows = entriesOf(data, root).map(([key, value]) => row(key, value, [key], childField(root, key), save, readOnly))
  return h("div", { class: "tree" }, rows.length ? rows : h("p", { class: "empty" }, "No fields."))
}

function row(
  key: string | number,
  value: unknown,
  path: Path,
  field: FieldJSON | undefined,
  save: SaveEdit,
  readOnly: boolean,
): HTMLElement {
  const kind = kindOf(value)
  const label = typeof key === "number" ? `[${key}]` : key
  const nested = kind === "map" || kind === "list"
  const entries = nested ? entriesOf(value, field) : []
  const count = entries.length
  const kindLabel = kind === "list" ? `list · ${count}` : kind === "map" ? `map · ${count}` : kind
  return h(
    "div",
    { class: `field kind-${kind}`, "data-path": path.join("."), "data-kind": kind },
    h("span", { class: "key" }, label),
    h("span", { class: "kind" }, kindLabel),
    nested
      ? h(
          "div",
          { class: "children" },
          entries.map(([k, v]) => row(k, v, [...path, k], childField(field, k), save, readOnly)),
        )
      : h("div", { class: "value" }, editor(kind, value, path, field, save, readOnly)),
  )
}

function editor(kind: Kind, value: unknown, path: Path, field: FieldJSON | undefined, save: SaveEdit, readOnly: boolean): HTMLElement {
  const key = JSON.stringify(path)
  if (kind === "counter") {
    const count = (value as { $counter: number }).$counter
    const step = (by: number) => () => void save({ op: "incr", path, by })
    return h(
      "div",
      { class: "counter" },
      h(
        "button",
        { type: "button", class: "step", "aria-label": `decrement ${path.join(".")}`, disabled: readOnly, onClick: step(-1) },
        "−",
      ),
      h("output", {}, count),
      h(
        "button",
        { type: "button", class: "step", "aria-label": `increment ${path.join(".")}`, disabled: readOnly, onClick: step(1) },
        "+",
      ),
    )
  }
  if (kind === "text") {
    const text = (value as { $text: string }).$text
    const area = h("textarea", {
      "data-editor": key,
      rows: Math.min(12, Math.max(3, text.split("\n").length + 1)),
      spellcheck: "false",
      disabled: readOnly,
    }) as HTMLTextAreaElement
    area.value = text
    area.dataset.original = text
    const button = h("button", { type: "button", class: "save-text", disabled: true }, "Save text")
    const commit = () => {
      if (area.value === area.dataset.original) return
      button.disabled = true
      void save({ op: "settext", path, text: area.value })
    }
    area.addEventListener("input", () => {
      const dirty = area.value !== area.dataset.original
      button.disabled = !dirty
      if (dirty) area.dataset.dirty = "true"
      else delete area.dataset.dirty
    })
    area.addEventListener("keydown", event => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) commit()
    })
    button.addEventListener("click", commit)
    return h("div", { class: "text" }, area, h("div", { class: "text-actions" }, button, h("span", { class: "hint" }, "Ctrl+Enter saves")))
  }
  if (typeof value === "boolean") {
    const box = h("input", { type: "checkbox", checked: value, disabled: readOnly, "data-editor": key }) as HTMLInputElement
    box.addEventListener("change", () => void save({ op: "set", path, value: box.checked }))
    return h("label", { class: "check" }, box, h("span", {}, String(value)))
  }
  if (value === null) return h("span", { class: "null" }, "null")
  const choices = field?.kind === "register" ? field.values : undefined
  if (choices && typeof value === "string") {
    const select = h(
      "select",
      { disabled: readOnly, "data-editor": key },
      choices.map(choice => h("option", { value: choice, selected: choice === value }, choice)),
    ) as HTMLSelectElement
    select.addEventListener("change", () => void save({ op: "set", path, value: select.value }))
    return select
  }
  const isNumber = typeof value === "number"
  const input = h("input", {
    type: isNumber ? "number" : "text",
    step: isNumber ? "any" : undefined,
    disabled: readOnly,
    "data-editor": key,
  }) as HTMLInputElement
  input.value = String(value)
  input.dataset.original = input.value
  input.addEventListener("input", () => {
    input.setCustomValidity("")
    if (input.value !== input.dataset.original) input.dataset.dirty = "true"
    else delete input.dataset.dirty
  })
  const commit = () => {
    if (input.value === input.dataset.original) return
    const next = isNumber ? Number(input.value) : input.value
    if (isNumber && (input.value.trim() === "" || !Number.isFinite(next))) {
      input.setCustomValidity("a number")
      input.reportValidity()
      return
    }
    input.dataset.original = input.value
    void save({ op: "set", path, value: next })
  }
  input.addEventListener("change", commit)
  input.addEventListener("keydown", event => {
    if (event.key === "Enter") commit()
    if (event.key === "Escape") {
      input.value = input.dataset.original ?? ""
      delete input.dataset.dirty
    }
  })
  return input
}

/** Unsaved values in a tree (text being typed), to carry over when the tree is drawn again. */
export interface Unsaved {
  values: Map<string, string>
  focus: { key: string; start: number | null; end: number | null } | undefined
}

export function unsavedIn(root: ParentNode): Unsaved {
  const values = new Map<string, string>()
  for (const element of root.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>("[data-editor][data-dirty]"))
    values.set(element.dataset.editor!, element.value)
  const active = document.activeElement as HTMLInputElement | HTMLTextAreaElement | null
  const focusKey = active && root.contains(active) ? active.dataset?.editor : undefined
  const focus = focusKey ? { key: focusKey, start: active!.selectionStart ?? null, end: active!.selectionEnd ?? null } : undefined
  return { values, focus }
}

export function restoreUnsaved(root: ParentNode, unsaved: Unsaved): void {
  for (const element of root.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>("[data-editor]")) {
    const key = element.dataset.editor!
    const value = unsaved.values.get(key)
    if (value !== undefined && value !== element.value) {
      element.value = value
      element.dataset.dirty = "true"
      element.dispatchEvent(new Event("input"))
    }
    if (unsaved.focus?.key === key) {
      element.focus()
      if (unsaved.focus.start !== null && "setSelectionRange" in element && element.type !== "number")
        element.setSelectionRange(unsaved.focus.start, unsaved.focus.end)
    }
  }
}
