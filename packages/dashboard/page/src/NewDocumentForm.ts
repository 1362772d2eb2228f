/**
 * "New document": a type and its data. For a type with a schema (the app's,
 * or one synced from peers) a typed form of its fields, each starting at its
 * default (see TypedFields.ts); for any other type, tagged JSON.
 */
import { ApiError, type DocumentDetail, type TypeDefinitionJSON } from "./api.js"
import { fill, h } from "./dom.js"
import { typedFields, type TypedFields } from "./TypedFields.js"

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
  const dataLabel = h(
    "label",
    {},
    "Data ",
    h("span", { class: "hint" }, 'tagged JSON: "s" is a register, {"$text": "s"} text, {"$counter": 0} a counter'),
    dataInput,
  )
  const typedBox = h("fieldset", { class: "typed-fields", hidden: true })
  let typed: TypedFields | undefined
  const error = h("p", { class: "error", role: "alert", hidden: true })
  const submit = h("button", { type: "submit", class: "primary" }, "Create")
  let touched = false
  dataInput.addEventListener("input", () => (touched = true))
  for (const input of [typeInput, dataInput]) input.addEventListener("input", () => (error.hidden = true))

  const prefill = () => {
    const definition = options.schemas[typeInput.value.trim()]
    typed = definition && typedFields(definition)
    typedBox.hidden = !typed
    dataLabel.hidden = typed !== undefined
    fill(typedBox, typed ? [h("legend", {}, `${definition!.name}, version ${definition!.version}`), typed.element] : null)
    if (!touched && !typed) dataInput.value = JSON.stringify({ title: "" }, null, 2)
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
    typedBox,
    dataLabel,
    error,
    h("div", { class: "dialog-actions" }, h("button", { type: "button", onClick: () => dialog.close() }, "Cancel"), submit),
  )
  form.addEventListener("submit", async event => {
    event.preventDefault()
    let data: unknown
    try {
      data = typed ? typed.read() : JSON.parse(dataInput.value)
    } catch (problem) {
      return show(typed ? (problem as Error).message : `The data is not valid JSON: ${(problem as Error).message}`)
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
  ;(options.initialType ? (typed?.first ?? dataInput) : typeInput).focus()
}
