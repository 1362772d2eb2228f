/**
 * Finding a document among many, above the middle column's list: a search
 * box (text in any string of a document), filters (field, operator, value,
 * sent as db.query's `where`), and what the list is sorted by and which
 * page it shows. The server does the work (GET /api/docs); this holds what
 * the person asked for and turns it into the request.
 */
import type { FieldJSON } from "./api.js"
import { fill, h } from "./dom.js"

export type Operator = "=" | "≠" | ">" | "≥" | "<" | "≤" | "contains"

export interface Filter {
  field: string
  operator: Operator
  value: unknown
}

const OPERATORS: Record<Operator, string | undefined> = {
  "=": undefined,
  "≠": "$ne",
  ">": "$gt",
  "≥": "$gte",
  "<": "$lt",
  "≤": "$lte",
  contains: "$contains",
}

export const PAGE_SIZE = 100
const SEARCH_DELAY_MS = 250

/** The `where` of a list of filters: equality as a plain value, the rest as comparisons (several on one field together). */
export function whereOf(filters: Filter[]): Record<string, unknown> | undefined {
  if (filters.length === 0) return undefined
  const where: Record<string, unknown> = {}
  for (const { field, operator, value } of filters) {
    const op = OPERATORS[operator]
    if (op === undefined) where[field] = value
    else {
      const held = where[field]
      const comparisons = typeof held === "object" && held !== null && Object.keys(held).every(k => k.startsWith("$")) ? held : {}
      where[field] = { ...comparisons, [op]: value }
    }
  }
  return where
}

export class DocumentFinder {
  search = ""
  filters: Filter[] = []
  sort = "modifiedAt"
  order: "asc" | "desc" = "desc"
  offset = 0
  #fields: Record<string, FieldJSON> = {}
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #searchBox: HTMLInputElement
  readonly #chips: HTMLElement
  readonly #editor: HTMLFormElement

  constructor(
    container: HTMLElement,
    private readonly changed: () => void,
  ) {
    this.#searchBox = h("input", {
      type: "search",
      class: "search",
      placeholder: "Search text…",
      "aria-label": "search documents",
      onInput: () => {
        clearTimeout(this.#timer)
        this.#timer = setTimeout(() => this.#set(() => (this.search = this.#searchBox.value.trim())), SEARCH_DELAY_MS)
      },
      onKeydown: (event: KeyboardEvent) => {
        if (event.key !== "Enter") return
        clearTimeout(this.#timer)
        this.#set(() => (this.search = this.#searchBox.value.trim()))
      },
    })
    this.#chips = h("ul", { class: "filter-chips", "aria-label": "filters" })
    this.#editor = h("form", { class: "filter-editor", "aria-label": "add a filter" })
    this.#editor.addEventListener("submit", event => {
      event.preventDefault()
      this.#addFromEditor()
    })
    fill(container, this.#searchBox, this.#editor, this.#chips)
    this.#drawEditor()
  }

  /** Another type was picked: start over, with its fields offered to filter by. */
  reset(fields: Record<string, FieldJSON> | undefined): void {
    this.#fields = fields ?? {}
    this.search = ""
    this.filters = []
    this.sort = "modifiedAt"
    this.order = "desc"
    this.offset = 0
    this.#searchBox.value = ""
    this.#drawEditor()
    this.#drawChips()
  }

  /** The type's fields became known (the overview arrived after the type was picked): offer them to filter by. */
  offer(fields: Record<string, FieldJSON> | undefined): void {
    const next = fields ?? {}
    if (Object.keys(next).join() === Object.keys(this.#fields).join()) return
    this.#fields = next
    this.#drawEditor()
  }

  /** The request's parameters for GET /api/docs (less the type). */
  params(includeDeleted: boolean): Record<string, string> {
    const where = whereOf(this.filters)
    return {
      ...(this.search ? { q: this.search } : {}),
      ...(where ? { where: JSON.stringify(where) } : {}),
      sort: this.sort,
      order: this.order,
      offset: String(this.offset),
      limit: String(PAGE_SIZE),
      ...(includeDeleted ? { deleted: "1" } : {}),
    }
  }

  /** Sort by `column`; a second click on the same column turns the order round. */
  sortBy(column: string): void {
    this.#set(() => {
      if (this.sort === column) this.order = this.order === "asc" ? "desc" : "asc"
      else {
        this.sort = column
        this.order = column === "modifiedAt" || column === "createdAt" ? "desc" : "asc"
      }
    })
  }

  page(offset: number): void {
    this.offset = Math.max(0, offset)
    this.changed()
  }

  /** A change of what is asked for starts again from the first page. */
  #set(update: () => void): void {
    update()
    this.offset = 0
    this.changed()
  }

  #addFromEditor(): void {
    const data = new FormData(this.#editor)
    const field = String(data.get("field") ?? "").trim()
    const operator = String(data.get("operator") ?? "=") as Operator
    const raw = String(data.get("value") ?? "")
    if (!field) return
    this.#set(() => this.filters.push({ field, operator, value: this.#valueOf(field, raw, operator) }))
    this.#drawEditor()
    this.#drawChips()
  }

  /** A declared string field takes the text as typed; otherwise JSON where it parses (3, true, null), else the text. */
  #valueOf(field: string, raw: string, operator: Operator): unknown {
    const declared = this.#fields[field]
    const isString = declared && (declared.kind === "text" || (declared.kind === "register" && declared.of === "string"))
    if (isString || operator === "contains") return raw
    try {
      return JSON.parse(raw)
    } catch {
      return raw
    }
  }

  #drawEditor(): void {
    const names = Object.keys(this.#fields)
    fill(
      this.#editor,
      h("input", { name: "field", list: "filter-fields", placeholder: "field", "aria-label": "filter field", required: true }),
      h(
        "datalist",
        { id: "filter-fields" },
        names.map(name => h("option", { value: name })),
      ),
      h(
        "select",
        { name: "operator", "aria-label": "filter operator" },
        (Object.keys(OPERATORS) as Operator[]).map(op => h("option", { value: op }, op)),
      ),
      h("input", { name: "value", placeholder: "value", "aria-label": "filter value" }),
      h("button", { type: "submit" }, "Filter"),
    )
  }

  #drawChips(): void {
    fill(
      this.#chips,
      this.filters.map((filter, i) =>
        h(
          "li",
          { class: "chip" },
          h("span", {}, `${filter.field} ${filter.operator} ${JSON.stringify(filter.value)}`),
          h(
            "button",
            {
              type: "button",
              "aria-label": `remove filter ${filter.field}`,
              onClick: () => {
                this.#set(() => this.filters.splice(i, 1))
                this.#drawChips()
              },
            },
            "×",
          ),
        ),
      ),
    )
  }
}
