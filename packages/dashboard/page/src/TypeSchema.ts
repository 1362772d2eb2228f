/**
 * The selected type's schema, above its documents: the version, where the
 * definition comes from (this peer's app, or synced from the peers that
 * publish it: a relay with no app code shows it too), and each field's
 * kind, default, whether it may be missing, and the values it allows.
 */
import type { FieldJSON, TypeDefinitionJSON } from "./api.js"
import { fill, h } from "./dom.js"

export function renderTypeSchema(
  box: HTMLElement,
  type: string | undefined,
  definition: TypeDefinitionJSON | undefined,
  source: "app" | "synced" | undefined,
): void {
  box.hidden = !type
  if (!type) return fill(box)
  if (!definition) return fill(box, h("p", { class: "muted schema-none" }, `No schema for ${type}: its documents are shown as stored.`))
  const fields = Object.entries(definition.fields)
  fill(
    box,
    h(
      "details",
      { class: "schema", "data-version": definition.version, "data-source": source },
      h(
        "summary",
        {},
        `Schema: version ${definition.version} · ${fields.length} field${fields.length === 1 ? "" : "s"} · `,
        source === "synced" ? "synced from peers (this peer has no app code for it)" : "this peer's app",
      ),
      h(
        "table",
        { class: "schema-fields" },
        h("thead", {}, h("tr", {}, h("th", {}, "Field"), h("th", {}, "Kind"), h("th", {}, "Default"), h("th", {}, "Allowed values"))),
        h(
          "tbody",
          {},
          fields.map(([name, field]) =>
            h(
              "tr",
              { "data-field": name },
              h("td", {}, h("code", {}, name), field.optional ? h("span", { class: "badge" }, "optional") : null),
              h("td", { class: "kind" }, kindOf(field)),
              h("td", { class: "default" }, defaultOf(field)),
              h(
                "td",
                { class: "values" },
                field.kind === "register" && field.values ? field.values.map(value => JSON.stringify(value)).join(", ") : "any",
              ),
            ),
          ),
        ),
      ),
      definition.lenses?.length
        ? h("p", { class: "muted" }, `Lenses from version ${definition.lenses.map(lens => lens.from).join(", ")}.`)
        : null,
    ),
  )
}

function kindOf(field: FieldJSON): string {
  switch (field.kind) {
    case "register":
      return `${field.of} register`
    case "list":
      return `list of ${kindOf(field.of)}`
    case "record":
      return `record of ${kindOf(field.of)}`
    default:
      return field.kind
  }
}

function defaultOf(field: FieldJSON): string {
  if ("default" in field && field.default !== undefined) return JSON.stringify(field.default)
  if (field.kind === "counter") return "0"
  if (field.kind === "list" || field.kind === "record") return "empty"
  return field.optional ? "none (may be missing)" : "— (required)"
}
