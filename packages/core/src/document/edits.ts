/**
 * Edits addressed by a path into a document's data (keys and list
 * indexes): set a value given as tagged JSON, remove one, increment a
 * counter, splice or replace text. The CLI (`cairn set/unset/incr/text`)
 * and the dashboard's edit API both apply their edits here, to a draft, so
 * a path means the same and fails with the same words in both; the
 * database then validates the result against the type, if there is one.
 */
import { CairnError } from "../errors.js"
import type { FieldJSON } from "../schema/fields.js"
import { untagForField } from "../schema/values.js"
import { assertSameKind, kindOfDraftValue } from "./draft.js"

export type DataPath = (string | number)[]

export type Edit =
  /** `force`: replace a value with one of another kind where no definition says what it is (refused otherwise). */
  | { op: "set"; path: DataPath; value: unknown; force?: boolean }
  | { op: "unset"; path: DataPath }
  | { op: "incr"; path: DataPath; by: number }
  | { op: "splice"; path: DataPath; index: number; del: number; text: string }
  | { op: "settext"; path: DataPath; text: string }

/** An edit's path leads nowhere it can be applied (a missing map, a list given a key, a counter that is text). */
export class EditError extends CairnError {
  constructor(
    message: string,
    readonly path: readonly (string | number)[],
  ) {
    super(message)
  }
}

type Draft = Record<string | number, unknown>
type DraftList = { get(index: number): unknown; set(index: number, value: unknown): void; delete(index: number): void; length: number }

/**
 * Apply an edit to a draft of a document's data. `fields` is the type's
 * definition, if there is one: a value given as tagged JSON is then read as
 * the kind the definition declares at the path. Where none is declared, a
 * set that would change a value's kind throws KindChangeError unless the
 * edit says `force`.
 */
export function applyEdit(draft: object, edit: Edit, fields?: Record<string, FieldJSON>): void {
  if (edit.path.length === 0) throw new EditError(`an edit needs a path into the document's data, e.g. ["title"]`, edit.path)
  const { container, key, isList } = parentOf(draft as Draft, edit.path)
  const current = read(container, key)
  switch (edit.op) {
    case "set": {
      const field = fieldAt(fields, edit.path)
      if (!field && !edit.force) assertSameKind(current, edit.value, edit.path)
      const value = field ? untagForField(field, edit.value, edit.path) : edit.value
      if (!isList) container[key] = value
      else if ((key as number) > (container as unknown as DraftList).length)
        throw new RangeError(`list index ${key} is out of range (length ${(container as unknown as DraftList).length})`)
      else (container as unknown as DraftList).set(key as number, value)
      return
    }
    case "unset":
      if (isList) return (container as unknown as DraftList).delete(key as number)
      if (current === undefined) throw new EditError(`nothing at ${show(edit.path)}`, edit.path)
      delete container[key]
      return
    case "incr":
      if (kindOfDraftValue(current) !== "counter")
        throw new EditError(`${show(edit.path)} is not a counter (${describe(current)})`, edit.path)
      ;(current as { increment(by: number): void }).increment(edit.by)
      return
    case "splice":
      if (kindOfDraftValue(current) !== "text") throw new EditError(`${show(edit.path)} is not text (${describe(current)})`, edit.path)
      ;(current as { splice(index: number, del: number, text: string): void }).splice(edit.index, edit.del, edit.text)
      return
    case "settext":
      if (kindOfDraftValue(current) !== "text") throw new EditError(`${show(edit.path)} is not text (${describe(current)})`, edit.path)
      ;(current as { set(text: string): void }).set(edit.text)
      return
  }
}

/** The declared field at `path` of a type's fields, if there is one. */
export function fieldAt(fields: Record<string, FieldJSON> | undefined, path: readonly (string | number)[]): FieldJSON | undefined {
  let field: FieldJSON | undefined = fields ? { kind: "map", fields } : undefined
  for (const step of path) {
    if (!field) return undefined
    if (field.kind === "map") field = typeof step === "string" ? field.fields[step] : undefined
    else if (field.kind === "record" || field.kind === "list") field = field.of
    else return undefined
  }
  return field
}

/** The map or list holding the path's last step, checked to be one, and that step. */
function parentOf(draft: Draft, path: DataPath): { container: Draft; key: string | number; isList: boolean } {
  let container = draft
  for (const [depth, step] of path.slice(0, -1).entries()) {
    const next = read(container, step)
    if (next === undefined) throw new EditError(`nothing to edit at ${show(path.slice(0, depth + 1))}: there is no value there`, path)
    assertContainer(next, path.slice(0, depth + 1))
    container = next as Draft
  }
  const parentPath = path.slice(0, -1)
  const kind = assertContainer(container, parentPath)
  const key = path.at(-1)!
  const isList = kind === "list"
  if (isList && typeof key !== "number")
    throw new EditError(`${show(parentPath)} is a list: the last step of the path must be an index`, path)
  return { container, key, isList }
}

function assertContainer(value: unknown, path: DataPath): "map" | "list" {
  const kind = kindOfDraftValue(value)
  if (kind !== "map" && kind !== "list") throw new EditError(`${show(path)} is ${describeKind(kind)}, not a map or list`, path)
  return kind
}

function read(container: Draft, step: string | number): unknown {
  const kind = kindOfDraftValue(container)
  if (kind === "list") return typeof step === "number" ? (container as unknown as DraftList).get(step) : undefined
  if (kind !== "map") return undefined
  return step === "__proto__" ? undefined : container[step]
}

function describeKind(kind: ReturnType<typeof kindOfDraftValue>): string {
  return kind === "counter" ? "a counter" : kind === "text" ? "text" : kind === "list" ? "a list" : kind === "map" ? "a map" : "a register"
}

function describe(value: unknown): string {
  if (value === undefined) return "there is no value there"
  const kind = kindOfDraftValue(value)
  if (kind === "register") return `it is a register holding ${JSON.stringify(value)}`
  return `it is ${describeKind(kind)}`
}

function show(path: readonly (string | number)[]): string {
  return path.length ? path.map(String).join(".") : "the document's data"
}
