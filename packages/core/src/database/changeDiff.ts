/**
 * What one change did to a document's data, field by field: the document as
 * it was just before the change (at the change's dependencies) against the
 * document with it (at the change), so the diff is that change's own work,
 * whatever came after it. Only the data is compared, not the envelope.
 */
import * as A from "@automerge/automerge"
import { Counter, ImmutableString } from "@automerge/automerge"
import type { Envelope } from "../document/envelope.js"
import { UnknownChangeError } from "../errors.js"
import { toPlain } from "../schema/values.js"

export type DiffKind = "register" | "text" | "counter" | "list" | "map"

/** One field a change added, removed or changed. Values are plain (text and registers as strings, counters as numbers). */
export interface FieldDiff {
  path: (string | number)[]
  /** The field's kind after the change (before it, when it was removed). */
  kind: DiffKind
  change: "added" | "removed" | "changed"
  before?: unknown
  after?: unknown
  /** A counter's increment (negative for a decrement). */
  by?: number
  /** A text's edit, as the span that differs: at `at`, `deleted` was taken out and `inserted` put in. */
  text?: { at: number; deleted: string; inserted: string }
}

/** The fields the change `hash` changed; throws UnknownChangeError if the document has no such change. */
export function diffOfChange(id: string, doc: A.Doc<Envelope>, hash: string): FieldDiff[] {
  const change = /^[0-9a-f]{64}$/.test(hash) ? A.inspectChange(doc, hash) : null
  if (change === null) throw new UnknownChangeError(id, hash)
  const before = change.deps.length ? (A.view(doc, change.deps) as A.Doc<Envelope>).data : undefined
  const after = (A.view(doc, [hash]) as A.Doc<Envelope>).data
  const diffs: FieldDiff[] = []
  diffValues(before ?? {}, after ?? {}, [], diffs)
  return diffs
}

function diffValues(before: unknown, after: unknown, path: (string | number)[], out: FieldDiff[]): void {
  if (before === undefined && after === undefined) return
  if (before === undefined) return void out.push({ path, kind: kindOf(after), change: "added", after: toPlain(after) })
  if (after === undefined) return void out.push({ path, kind: kindOf(before), change: "removed", before: toPlain(before) })
  const kind = kindOf(after)
  if (kind === "map" && kindOf(before) === "map") {
    const keys = new Set([...Object.keys(before as object), ...Object.keys(after as object)])
    for (const key of keys)
      diffValues((before as Record<string, unknown>)[key], (after as Record<string, unknown>)[key], [...path, key], out)
    return
  }
  const [was, is] = [toPlain(before), toPlain(after)]
  if (kindOf(before) === kind && JSON.stringify(was) === JSON.stringify(is)) return
  const diff: FieldDiff = { path, kind, change: "changed", before: was, after: is }
  if (kind === "counter" && before instanceof Counter) diff.by = (is as number) - (was as number)
  if (kind === "text" && typeof before === "string") diff.text = textSpan(before, after as string)
  out.push(diff)
}

function kindOf(value: unknown): DiffKind {
  if (value instanceof Counter) return "counter"
  // Automerge keeps text as a JavaScript string and a string register as an ImmutableString.
  if (typeof value === "string") return "text"
  if (value instanceof ImmutableString) return "register"
  if (Array.isArray(value)) return "list"
  if (typeof value === "object" && value !== null) return "map"
  return "register"
}

/** The one span where two texts differ: what lies between their common start and common end. */
function textSpan(before: string, after: string): { at: number; deleted: string; inserted: string } {
  let start = 0
  while (start < before.length && start < after.length && before[start] === after[start]) start++
  let end = 0
  while (end < before.length - start && end < after.length - start && before.at(-1 - end) === after.at(-1 - end)) end++
  return { at: start, deleted: before.slice(start, before.length - end), inserted: after.slice(start, after.length - end) }
}
