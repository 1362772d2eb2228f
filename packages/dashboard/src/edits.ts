/**
 * The edits the dashboard makes to a document: set a value (tagged JSON),
 * increment a counter, splice or replace text. A request's edit is read and
 * checked here; it is applied by core's applyEdit, as the CLI's are, and
 * the database validates the result against the type, if there is one.
 */
import { applyEdit as applyEditToDraft, EditError, KindChangeError, type FieldJSON } from "@cairn/core"
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
      if (!("value" in body))
        throw new HttpError(400, `"set" needs a "value" (tagged JSON: "s" is a register, {"$text": "s"} text, {"$counter": 1} a counter)`)
      if (body.force !== undefined && typeof body.force !== "boolean")
        throw new HttpError(400, `"force" must be true or false (got ${JSON.stringify(body.force)})`)
      return { op: "set", path, value: body.value, force: body.force === true }
    case "incr": {
      const by = body.by ?? 1
      if (typeof by !== "number" || !Number.isFinite(by))
        throw new HttpError(400, `"by" must be a finite number (got ${JSON.stringify(by)})`)
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
  if (!Array.isArray(path) || path.length === 0)
    throw new HttpError(400, `"path" must be a non-empty array of keys and indexes, e.g. ["title"]`)
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

/** Apply an edit to a draft of the document's data (see core's applyEdit); a path or kind problem is a 400 naming it. */
export function applyEdit(draft: object, edit: Edit, fields: Record<string, FieldJSON> | undefined): void {
  try {
    applyEditToDraft(draft, edit, fields)
  } catch (error) {
    if (error instanceof KindChangeError) throw new HttpError(400, `${error.message}; send "force": true to replace it anyway`)
    if (error instanceof EditError) throw new HttpError(400, error.message)
    throw error
  }
}
