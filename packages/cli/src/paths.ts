/**
 * Dotted paths into a document's data (`a.b.0.c`) as the CLI takes them:
 * numeric segments index lists. Edits along them are core's applyEdit.
 */
import type { DataPath } from "@cairn/core"
import { UsageError } from "./errors.js"

/** Parse "a.b.0.c" into segments; numbers become list indexes. */
export function parsePath(path: string): DataPath {
  if (!path || path.split(".").some(part => part === ""))
    throw new UsageError(`invalid path ${JSON.stringify(path)}: use dotted keys like a.b.0.c`)
  return path.split(".").map(part => (/^\d+$/.test(part) ? Number(part) : part))
}
