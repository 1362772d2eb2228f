/**
 * The edits the dashboard makes to a document: set a value (tagged JSON),
 * increment a counter, splice or replace text. Each names its target by a
 * path into the document's data and is checked here before it reaches the
 * database, which validates the result against the type, if there is one.
 */
import { assertSameKind, KindChangeError, untagForField, type FieldJSON } from "@cairn/core"
import { HttpError, isObject } from "./http.js"
import type { Edit, Path } from "./shapes.js"

export type { Edit, Path } from "./shapes.js"

const MAX_DEPTH = 32

/** Read an edit from a request body; throws a 400 naming what is wrong. */
export function parseEdit(body: unknown): Edit {
  if (!isObject(body)) throw new HttpError(400, "send an edit as a JSON object: {op, path, ...}")
  const path = parsePath(body.path)
  switch (body.op) {
    case "set":
      if (!("value" in body)) throw new HttpError(400, `"set" needs a "value" (tagged JSON: "s" is a register, {"$text": "s"} text, {"$counter": 1} a counter)`)
      if (body.force !== undefined && typeof body.force !== "boolean") throw new HttpError(400, `"force" must be true or false (got ${JSON.stringify(body.force)})`)
      return { op: "set", path, value: body.value, force: body.force === true }
    case "incr": {
      const by = body.by ?? 1
      if (typeof by !== "number" || !Number.isFinite(by)) throw new HttpError(400, `"by" must be a finite number (got ${JSON.stringify(by)})`)
      return { op: "incr", path, by }
    }
    case "splice": {
      const { index, del = 0, text = "" } = body
      if (!isCount(index)) throw new HttpError(400, `"index" must be a whole number ≥ 0 (got ${JSON.stringify(index)})`)
      if (!isCount(del)) throw new HttpError(400, `"del" must be a whole number ≥ 0 (got ${JSON.stringify(del)})`)
      if (typeof text !== "string") throw new HttpError(400, `"text" must be a string (got ${JSON.stringify(text)})`)
      return { op: "splice", path, index, del, text }
    }
    case "settext":
      if (typeof body.text !== "string") throw new HttpError(400, `"settext" needs "text", a string (got ${JSON.stringify(body.text)})`)
      return { op: "settext", path, text: body.text }
    default:
      throw new HttpError(400, `unknown op ${JSON.stringify(body.op)}: use "set", "incr", "splice" or "settext"`)
  }
}

function parsePath(path: unknown): Path {
  if (!Array.isArray(path) || path.length === 0) throw new HttpError(400, `"path" must be a non-empty array of keys and indexes, e.g. ["title"]`)
  if (path.length > MAX_DEPTH) throw new HttpError(400, `"path" is deeper than ${MAX_DEPTH}`)
  for (const key of path) {
    const ok = (typeof key === "string" && key !== "" && key !== "__proto__") || isCount(key)
    if (!ok) throw new HttpError(400, `"path" holds ${JSON.stringify(key)}: each step must be a key (a non-empty string) or a list index`)
  }
  return path as Path
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0
}

type Container = Record<string | number, unknown> & { get?: (index: number) => unknown; set?: (index: number, value: unknown) => void }

/**
 * Apply an edit to a draft of the document's data. `fields` is the type's
 * definition, if this peer has one; values given as tagged JSON are then
 * read as the kind the definition declares.
 */
export function applyEdit(draft: object, edit: Edit, fields: Record<string, FieldJSON> | undefined): void {
  const parentPath = edit.path.slice(0, -1)
  const key = edit.path.at(-1)!
  let parent = draft as Container
  for (const [depth, step] of parentPath.entries()) {
    const next = read(parent, step)
    if (typeof next !== "object" || next === null) throw new HttpError(400, `nothing to edit at ${show(edit.path.slice(0, depth + 1))}: it is not a map or a list`)
    parent = next as Container
  }
  const isList = typeof parent.get === "function" && typeof parent.set === "function"
  if (isList && typeof key !== "number") throw new HttpError(400, `${show(parentPath)} is a list: the last step of "path" must be an index`)
  const current = read(parent, key)
  switch (edit.op) {
    case "set": {
      const field = fieldAt(fields, edit.path)
      // A declared field converts the value to its kind; with none, only the caller can say a kind change is meant (as `cairn set`).
      if (!field && !edit.force) keepingKind(() => assertSameKind(current, edit.value, edit.path))
      const value = field ? untagForField(field, edit.value, edit.path) : edit.value
      if (isList) parent.set!(key as number, value)
      else parent[key] = value
      return
    }
    case "incr":
      if (!hasMethod(current, "increment")) throw new HttpError(400, `${show(edit.path)} is not a counter (${describe(current)})`)
      current.increment(edit.by)
      return
    case "splice":
      if (!hasMethod(current, "splice")) throw new HttpError(400, `${show(edit.path)} is not text (${describe(current)})`)
      current.splice(edit.index, edit.del, edit.text)
      return
    case "settext":
      if (!hasMethod(current, "splice") || !hasMethod(current, "set")) throw new HttpError(400, `${show(edit.path)} is not text (${describe(current)})`)
      current.set(edit.text)
      return
  }
}

function keepingKind(check: () => void): void {
  try {
    check()
  } catch (error) {
    if (error instanceof KindChangeError) throw new HttpError(400, `${error.message}; send "force": true to replace it anyway`)
    throw error
  }
}

function read(container: Container, step: string | number): unknown {
  if (typeof step === "number" && typeof container.get === "function") return container.get(step)
  return container[step]
}

function hasMethod<K extends string>(value: unknown, name: K): value is Record<K, (...args: any[]) => void> {
  return typeof value === "object" && value !== null && typeof (value as Record<string, unknown>)[name] === "function"
}

function describe(value: unknown): string {
  if (value === undefined) return "there is no value there"
  if (hasMethod(value, "increment")) return "it is a counter"
  if (hasMethod(value, "splice")) return "it is text"
  if (typeof value === "object" && value !== null) return typeof (value as Container).get === "function" ? "it is a list" : "it is a map"
  return `it is a register holding ${JSON.stringify(value)}`
}

function show(path: Path): string {
  return path.length ? path.map(String).join(".") : "the document's data"
}

/** The field a definition declares at `path`, if any. */
function fieldAt(fields: Record<string, FieldJSON> | undefined, path: Path): FieldJSON | undefined {
  let field: FieldJSON | undefined = fields ? { kind: "map", fields } : undefined
  for (const step of path) {
    if (!field) return undefined
    if (field.kind === "map") field = typeof step === "string" ? field.fields[step] : undefined
    else if (field.kind === "record" || field.kind === "list") field = field.of
    else return undefined
  }
  return field
}
