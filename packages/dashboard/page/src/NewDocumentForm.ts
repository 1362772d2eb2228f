/**
 * "New document": a type and its data as tagged JSON. For a type with a
 * schema the data starts as a template of its fields.
 */
import { ApiError, type DocumentDetail, type FieldJSON, type TypeDefinitionJSON } from "./api.js"
import { fill, h } from "./dom.js"

export interface NewDocumentOptions {
  types: string[]
  initialType: string | undefined
  /** The schemas the peer has, by type. */
  schemas: Record<string, TypeDefinitionJSON>
  create(type: string, data: unknown): Promise<DocumentDetail>
  created(detail: DocumentDetail): void
}

export function openNewDocument(dialog: HTMLDialogElement, options: NewDocumentOptions): void {
  const typeInput = h("input", {
    name: "type",
    required: true,
    autocomplete: "off",
    list: "known-types",
    placeholder: "task",
    value: options.initialType ?? "",
  }) as HTMLInputElement
  const dataInput = h("textarea", { name: "data", rows: 9, spellcheck: "false" }) as HTMLTextAreaElement
  const error = h("p", { class: "error", role: "alert", hidden: true })
  const submit = h("button", { type: "submit", class: "primary" }, "Create")
  let touched = false
  dataInput.addEventListener("input", () => (touched = true))
  for (const input of [typeInput, dataInput]) input.addEventListener("input", () => (error.hidden = true))

  const prefill = () => {
    if (touched) return
    const fields = options.schemas[typeInput.value.trim()]?.fields
    dataInput.value = JSON.stringify(fields ? template({ kind: "map", fields }) : { title: "" }, null, 2)
  }
  typeInput.addEventListener("input", prefill)

  const form = h(
    "form",
    { method: "dialog", class: "new-document" },
    h("h2", {}, "New document"),
    h("label", {}, "Type", typeInput),
    h(
      "datalist",
      { id: "known-types" },
      options.types.map(type => h("option", { value: type })),
    ),
    h(
      "label",
      {},
      "Data ",
      h("span", { class: "hint" }, 'tagged JSON: "s" is a register, {"$text": "s"} text, {"$counter": 0} a counter'),
      dataInput,
    ),
    error,
    h("div", { class: "dialog-actions" }, h("button", { type: "button", onClick: () => dialog.close() }, "Cancel"), submit),
  )
  form.addEventListener("submit", async event => {
    event.preventDefault()
    let data: unknown
    try {
      data = JSON.parse(dataInput.value)
    } catch (problem) {
      return show(`The data is not valid JSON: ${(problem as Error).message}`)
    }
    submit.disabled = true
    try {
      const detail = await options.create(typeInput.value.trim(), data)
      dialog.close()
      options.created(detail)
    } catch (problem) {
      show(problem instanceof ApiError ? problem.message : String(problem))
    } finally {
      submit.disabled = false
    }
  })
  function show(message: string) {
    error.textContent = message
    error.hidden = false
  }

  fill(dialog, form)
  prefill()
  dialog.showModal()
  ;(options.initialType ? dataInput : typeInput).focus()
}

/** A starting value for a field, in tagged JSON. */
function template(field: FieldJSON): unknown {
  switch (field.kind) {
    case "counter":
      return { $counter: field.default ?? 0 }
    case "text":
      return { $text: field.default ?? "" }
    case "list":
      return []
    case "record":
      return {}
    case "map":
      return Object.fromEntries(Object.entries(field.fields).map(([key, sub]) => [key, template(sub)]))
    case "register":
      if (field.default !== undefined) return field.default
      if (field.values?.length) return field.values[0]
      return field.of === "number" ? 0 : field.of === "boolean" ? false : field.of === "null" ? null : ""
  }
}
