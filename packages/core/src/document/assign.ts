/**
 * Make a draft's data equal to a wanted value, writing only what differs and
 * each difference as the operation that merges well: a counter moves by an
 * increment, text by splices, a map key by key. For importing a document's
 * JSON on top of the copy already here, so the import is a change like any
 * other and merges with concurrent edits on other peers.
 */
import { Counter, ImmutableString } from "@automerge/automerge"
import { isPlainObject, toPlain, toTagged } from "../schema/values.js"

/**
 * `draft`: the change callback's draft of the document's data; `current`:
 * the same data read before the change (app form); `wanted`: stored form.
 * `typed`: whether the draft takes app values (a definition is known) or
 * tagged JSON (no definition).
 */
export function assignData(
  draft: Record<string, any>,
  current: Record<string, unknown>,
  wanted: Record<string, unknown>,
  typed: boolean,
): void {
  for (const key of Object.keys(current)) if (!(key in wanted)) delete draft[key]
  for (const [key, value] of Object.entries(wanted)) assignValue(draft, key, current[key], value, typed)
}

function assignValue(container: Record<string, any>, key: string, current: unknown, wanted: unknown, typed: boolean): void {
  const target = container[key]
  if (wanted instanceof Counter && typeof target?.increment === "function") {
    const by = wanted.value - (target.value as number)
    if (by !== 0) target.increment(by)
    return
  }
  if (typeof wanted === "string" && typeof target?.splice === "function") {
    if (target.value !== wanted) target.set(wanted)
    return
  }
  if (isPlainObject(wanted) && isPlainObject(current) && isMapDraft(target)) {
    assignData(target, current, wanted, typed)
    return
  }
  if (current !== undefined && sameKind(current, wanted) && JSON.stringify(current) === JSON.stringify(toPlain(wanted))) return
  container[key] = typed ? toPlain(wanted) : toTagged(wanted)
}

/** A nested map's draft (not a counter, text or list draft, and not a register). */
function isMapDraft(value: unknown): value is Record<string, any> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { increment?: unknown }).increment !== "function" &&
    typeof (value as { splice?: unknown }).splice !== "function" &&
    typeof (value as { push?: unknown }).push !== "function"
  )
}

/** Whether an app value read from the document can be the same field as a wanted stored value (a register string is not text). */
function sameKind(current: unknown, wanted: unknown): boolean {
  if (wanted instanceof ImmutableString) return typeof current === "string"
  if (Array.isArray(wanted)) return Array.isArray(current)
  return typeof current === typeof wanted
}
