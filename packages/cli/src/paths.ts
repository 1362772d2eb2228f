/**
 * Dotted paths into a document's data (`a.b.0.c`), walked through an
 * untyped or typed draft: numeric segments index lists.
 */
import { assertSameKind } from "@cairn/core"
import { UsageError } from "./errors.js"

export type PathSegment = string | number

/** Parse "a.b.0.c" into segments; numbers become list indexes. */
export function parsePath(path: string): PathSegment[] {
  if (!path || path.split(".").some(part => part === "")) throw new UsageError(`invalid path ${JSON.stringify(path)}: use dotted keys like a.b.0.c`)
  return path.split(".").map(part => (/^\d+$/.test(part) ? Number(part) : part))
}

function isList(value: unknown): value is { get(i: number): unknown; set(i: number, v: unknown): void; delete(i: number): void; length: number } {
  return typeof value === "object" && value !== null && typeof (value as { insert?: unknown }).insert === "function"
}

/** Read a child of a draft container (map key or list index). */
export function child(container: unknown, key: PathSegment): unknown {
  if (isList(container)) {
    if (typeof key !== "number") throw new Error(`expected a list index, got ${JSON.stringify(key)}`)
    return container.get(key)
  }
  if (typeof container !== "object" || container === null) throw new Error(`cannot go into ${JSON.stringify(key)}: not a map or list`)
  return (container as Record<string, unknown>)[String(key)]
}

/** The container holding the last segment, and that segment. Throws when the path leads nowhere. */
export function parentOf(draft: unknown, path: PathSegment[]): { container: unknown; key: PathSegment } {
  let current = draft
  for (let i = 0; i < path.length - 1; i++) {
    current = child(current, path[i]!)
    if (current === undefined || current === null) throw new Error(`nothing at ${path.slice(0, i + 1).join(".")}`)
  }
  return { container: current, key: path.at(-1)! }
}

/** Throw unless `value` is a map or list (text and counters have no parts to address). */
function assertContainer(value: unknown, path: PathSegment[]): void {
  const v = value as { splice?: unknown; increment?: unknown; insert?: unknown } | null
  const kind = typeof v?.increment === "function" ? "a counter" : typeof v?.splice === "function" && typeof v?.insert !== "function" ? "text" : typeof v !== "object" || v === null ? "a register" : undefined
  if (kind) throw new Error(`${path.slice(0, -1).join(".") || "the document"} is ${kind}, not a map or list`)
}

/** Set a value at a path; with `keepKind`, refuse to replace a value there with one of another kind (KindChangeError). */
export function setAt(draft: unknown, path: PathSegment[], value: unknown, keepKind = false): void {
  const { container, key } = parentOf(draft, path)
  assertContainer(container, path)
  if (keepKind) assertSameKind(child(container, key), value, path)
  if (isList(container)) {
    if (typeof key !== "number") throw new Error(`expected a list index, got ${JSON.stringify(key)}`)
    if (key > container.length) throw new RangeError(`list index ${key} is out of range (length ${container.length})`)
    container.set(key, value)
  } else {
    ;(container as Record<string, unknown>)[String(key)] = value
  }
}

/** Remove a map key or list item. */
export function unsetAt(draft: unknown, path: PathSegment[]): void {
  const { container, key } = parentOf(draft, path)
  assertContainer(container, path)
  if (isList(container)) {
    if (typeof key !== "number") throw new Error(`expected a list index, got ${JSON.stringify(key)}`)
    container.delete(key)
  } else {
    if (child(container, key) === undefined) throw new Error(`nothing at ${path.join(".")}`)
    delete (container as Record<string, unknown>)[String(key)]
  }
}
