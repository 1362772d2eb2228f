/**
 * A typed form of a definition's fields, for "New document": an input of
 * the field's kind for each (a text box for a string, a number box, a
 * checkbox, a choice of the allowed values, a text area for collaborative
 * text, a number for a counter; tagged JSON for lists, records and maps),
 * each starting at the field's default. `read` gives the data as tagged JSON
 * for the server, which checks it against the same definition: a field left
 * empty that may be missing is left out, and the server applies defaults.
 */
import type { FieldJSON, TypeDefinitionJSON } from "./api.js"
import { h } from "./dom.js"

export interface TypedFields {
  element: HTMLElement
  /** The first input, to focus. */
  first: HTMLElement | undefined
  /** The data as tagged JSON; throws an Error naming the field whose input cannot be read. */
  read(): Record<string, unknown>
}

interface FieldInput {
  input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement
  /** The field's value in tagged JSON, or undefined to leave it out. */
  read(): unknown
}

export function typedFields(definition: TypeDefinitionJSON): TypedFields {
  const inputs = Object.entries(definition.fields).map(([name, field]) => [name, field, inputFor(name, field)] as const)
  return {
    element: h(
      "div",
      { class: "typed-field-list" },
      inputs.map(([name, field, { input }]) =>
        h(
          "label",
          { class: "typed-field", "data-field": name },
          h("span", { class: "field-name" }, name),
          h("span", { class: "hint" }, hintOf(field)),
          input,
        ),
      ),
    ),
    first: inputs[0]?.[2].input,
    read() {
      const data: Record<string, unknown> = {}
      for (const [name, , input] of inputs) {
        const value = input.read()
        if (value !== undefined) data[name] = value
      }
      return data
    },
  }
}

function inputFor(name: string, field: FieldJSON): FieldInput {
  const attributes = { name: `field-${name}`, "data-kind": field.kind }
  switch (field.kind) {
    case "text": {
      const input = h("textarea", { ...attributes, rows: 3, value: field.default ?? "" })
      return { input, read: () => ({ $text: input.value }) }
    }
    case "counter": {
      const input = h("input", { ...attributes, type: "number", step: "1", value: String(field.default ?? 0) })
      return { input, read: () => ({ $counter: numberOf(name, input.value, false) }) }
    }
    case "register":
      return registerInput(name, field, attributes)
    default: {
      const input = h("textarea", { ...attributes, rows: 2, spellcheck: "false", value: JSON.stringify(template(field)) })
      return {
        input,
        read: () => {
          try {
            return JSON.parse(input.value)
          } catch (problem) {
            throw new Error(`${name}: not valid JSON (${(problem as Error).message})`)
          }
        },
      }
    }
  }
}

function registerInput(name: string, field: Extract<FieldJSON, { kind: "register" }>, attributes: Record<string, string>): FieldInput {
  const missing = field.optional === true || field.default !== undefined
  if (field.values?.length) {
    const input = h(
      "select",
      attributes,
      missing && field.default === undefined ? h("option", { value: "" }, "(none)") : null,
      field.values.map(value => h("option", { value, selected: value === field.default }, value)),
    )
    return { input, read: () => (input.value === "" ? undefined : input.value) }
  }
  switch (field.of) {
    case "boolean": {
      const input = h("input", { ...attributes, type: "checkbox", checked: field.default === true })
      return { input, read: () => input.checked }
    }
    case "number": {
      const input = h("input", {
        ...attributes,
        type: "number",
        step: "any",
        value: field.default === undefined ? "" : String(field.default),
      })
      return { input, read: () => (input.value === "" && missing ? undefined : numberOf(name, input.value, missing)) }
    }
    case "null":
      return { input: h("input", { ...attributes, type: "text", value: "null", disabled: true }), read: () => null }
    default: {
      const input = h("input", {
        ...attributes,
        type: "text",
        autocomplete: "off",
        value: field.default === undefined ? "" : String(field.default),
      })
      // An optional string left empty is left out; a required one is the empty string, as typed.
      return { input, read: () => (input.value === "" && field.optional ? undefined : input.value) }
    }
  }
}

function numberOf(name: string, text: string, mayBeEmpty: boolean): number | undefined {
  if (text.trim() === "" && mayBeEmpty) return undefined
  const value = Number(text)
  if (text.trim() === "" || !Number.isFinite(value)) throw new Error(`${name}: needs a number`)
  return value
}

function hintOf(field: FieldJSON): string {
  const kind = field.kind === "register" ? field.of : field.kind
  const extra = field.optional ? ", may be left empty" : "default" in field && field.default !== undefined ? ", has a default" : ""
  return `${kind}${extra}`
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
