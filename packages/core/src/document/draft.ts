/**
 * The typed draft handed to `change` callbacks: a thin view over Automerge's
 * change proxy that speaks the app's form. Assigning a string to a string
 * register stores an `ImmutableString` (Automerge would otherwise make it
 * collaborative text); counters and text are small objects with the
 * operations that merge well (`increment`, `splice`); lists have explicit
 * insert/delete. Where there is no definition (a relay, the CLI), the kind of
 * each new value comes from tagged JSON, and existing values keep their kind.
 */
import * as A from "@automerge/automerge"
import { ValidationError } from "../errors.js"
import type { CounterValue, FieldJSON, TextValue } from "../schema/fields.js"
import { fromTagged, isPlainObject, toStored, type Path } from "../schema/values.js"

/** A counter inside a draft. */
export interface DraftCounter {
  readonly value: number
  /** Add `by` (default 1; negative subtracts). Concurrent increments add up. */
  increment(by?: number): void
  /** Subtract `by` (default 1). */
  decrement(by?: number): void
}

/** Collaborative text inside a draft. */
export interface DraftText {
  readonly value: string
  readonly length: number
  /** Delete `deleteCount` characters at `index`, then insert `insert` there. */
  splice(index: number, deleteCount: number, insert?: string): void
  /** Replace the whole text, as a minimal diff of splices. */
  set(text: string): void
  toString(): string
}

/** A list inside a draft. Items can also be read and written by index. */
export interface DraftList<I, S = I> extends Iterable<Drafted<I>> {
  readonly length: number
  [index: number]: Drafted<I>
  get(index: number): Drafted<I> | undefined
  set(index: number, value: S): void
  push(...values: S[]): void
  insert(index: number, ...values: S[]): void
  /** Remove `count` items (default 1) starting at `index`. */
  delete(index: number, count?: number): void
  toArray(): Drafted<I>[]
}

type SetOf<T> = T extends CounterValue ? number : T extends TextValue ? string : T extends readonly (infer I)[] ? SetOf<I>[] : T extends Record<string, any> ? { [K in keyof T]: SetOf<T[K]> } : T

/** The draft form of a stored value type. */
export type Drafted<T> = T extends CounterValue
  ? DraftCounter
  : T extends TextValue
    ? DraftText
    : T extends readonly (infer I)[]
      ? DraftList<I, SetOf<I>>
      : T extends Record<string, any>
        ? DraftMap<T>
        : T

type DraftMap<T> = { [K in keyof T]: Drafted<T[K]> } & { -readonly [K in keyof T as T[K] extends CounterValue | TextValue | readonly any[] ? never : K]: Drafted<T[K]> | SetOf<T[K]> }

/** Draft of a type's data given its fields' value types. */
export type Draft<Data> = DraftMap<Data>

type Proxied = Record<string | number, unknown>

/**
 * Wrap the `data` map of an Automerge change proxy. `fields` is the definition, or undefined when there is none.
 *
 * With a definition, every write is checked as it is made: assigned values
 * against their field (`toStored`), list items against the list's, and a
 * delete against the field being optional. So a change made through a typed
 * draft leaves valid data behind without the whole document being read
 * again afterwards (for a note, that re-read was its whole text on every
 * keystroke). `root` is the change's root proxy: through it a text's length
 * is read without reading the text.
 */
export function draftOfData(data: Proxied, fields: Record<string, FieldJSON> | undefined, path: Path, root?: A.Doc<unknown>): object {
  return mapDraft(data, fields ? { kind: "map", fields } : undefined, path, root)
}

function fieldOfKey(field: FieldJSON | undefined, key: string): FieldJSON | undefined {
  if (!field) return undefined
  if (field.kind === "map") return field.fields[key]
  if (field.kind === "record") return field.of
  return undefined
}

function mapDraft(target: Proxied, field: FieldJSON | undefined, path: Path, root: A.Doc<unknown> | undefined): object {
  return new Proxy(target, {
    get(obj, key) {
      if (typeof key === "symbol") return Reflect.get(obj, key)
      return wrap(obj, key, fieldOfKey(field, key), [...path, key], root)
    },
    set(obj, key, value) {
      if (typeof key === "symbol") throw new ValidationError("symbol keys cannot be stored", path)
      const sub = fieldOfKey(field, key)
      if (field && !sub) throw new ValidationError(`unknown field ${JSON.stringify(key)}`, [...path, key])
      const stored = sub ? toStored(sub, value, [...path, key]) : fromTagged(value, [...path, key])
      if (sub?.kind === "text" && typeof obj[key] === "string") {
        A.updateText(obj as A.Doc<unknown>, [key], stored as string)
      } else if (!sub && typeof obj[key] === "string" && typeof value === "string") {
        // No definition, but the value there is text: a string keeps it text.
        A.updateText(obj as A.Doc<unknown>, [key], value)
      } else {
        obj[key] = stored
      }
      return true
    },
    deleteProperty(obj, key) {
      if (typeof key === "symbol") return false
      const sub = field?.kind === "map" ? field.fields[key] : undefined
      if (sub && !sub.optional) throw new ValidationError("missing required field", [...path, key])
      delete obj[key]
      return true
    },
  })
}

function wrap(parent: Proxied, key: string | number, field: FieldJSON | undefined, path: Path, root: A.Doc<unknown> | undefined): unknown {
  if (field?.kind === "text" && root) {
    // Find the text without reading it (reading a text builds the whole string).
    const backend = A.getBackend(root)
    const found = backend.getWithType(A.getObjectId(parent as A.Doc<unknown>) as string, key)
    if (found === null || found === undefined) return undefined
    if (found[0] === "text") return textDraft(parent, key, () => backend.length(found[1] as string))
  }
  const value = parent[key]
  if (value === undefined || value === null) return value
  if (value instanceof A.ImmutableString) return value.val
  if (value instanceof A.Counter) return counterDraft(parent, key)
  if (typeof value === "string") return textDraft(parent, key)
  if (Array.isArray(value)) return listDraft(value as unknown as Proxied & unknown[], field?.kind === "list" ? field.of : undefined, field !== undefined, path, root)
  if (isPlainObject(value)) return mapDraft(value as Proxied, field, path, root)
  return value
}

function counterDraft(parent: Proxied, key: string | number): DraftCounter {
  const counter = () => parent[key] as A.Counter
  return {
    get value() {
      return counter().value
    },
    increment(by = 1) {
      counter().increment(by)
    },
    decrement(by = 1) {
      counter().decrement(by)
    },
  }
}

function textDraft(parent: Proxied, key: string | number, length?: () => number): DraftText {
  const read = () => parent[key] as string
  const lengthOf = length ?? (() => read().length)
  return {
    get value() {
      return read()
    },
    get length() {
      return lengthOf()
    },
    splice(index, deleteCount, insert) {
      const length = lengthOf()
      if (!Number.isInteger(index) || index < 0 || index > length) throw new RangeError(`splice position ${index} is outside the text (length ${length})`)
      if (!Number.isInteger(deleteCount) || deleteCount < 0 || index + deleteCount > length) throw new RangeError(`cannot delete ${deleteCount} characters at ${index} from text of length ${length}`)
      A.splice(parent as A.Doc<unknown>, [key], index, deleteCount, insert)
    },
    set(text) {
      A.updateText(parent as A.Doc<unknown>, [key], text)
    },
    toString() {
      return read()
    },
  }
}

function listDraft(list: Proxied & unknown[], itemField: FieldJSON | undefined, typed: boolean, path: Path, root: A.Doc<unknown> | undefined): DraftList<unknown> {
  const store = (value: unknown, index: number) => (typed && itemField ? toStored(itemField, value, [...path, index]) : fromTagged(value, [...path, index]))
  const checkIndex = (index: number, allowEnd: boolean) => {
    const max = allowEnd ? list.length : list.length - 1
    if (!Number.isInteger(index) || index < 0 || index > max) throw new RangeError(`list index ${index} is out of range (length ${list.length})`)
  }
  const api: DraftList<unknown> = {
    get length() {
      return list.length
    },
    get(index) {
      return index >= 0 && index < list.length ? wrap(list, index, itemField, [...path, index], root) : undefined
    },
    set(index, value) {
      checkIndex(index, true)
      list[index] = store(value, index)
    },
    push(...values) {
      const start = list.length
      ;(list as unknown as A.List<unknown>).insertAt(start, ...values.map((v, i) => store(v, start + i)))
    },
    insert(index, ...values) {
      checkIndex(index, true)
      ;(list as unknown as A.List<unknown>).insertAt(index, ...values.map((v, i) => store(v, index + i)))
    },
    delete(index, count = 1) {
      checkIndex(index, false)
      ;(list as unknown as A.List<unknown>).deleteAt(index, Math.min(count, list.length - index))
    },
    toArray() {
      return Array.from({ length: list.length }, (_, i) => wrap(list, i, itemField, [...path, i], root))
    },
    [Symbol.iterator]() {
      return api.toArray()[Symbol.iterator]()
    },
  } as DraftList<unknown>
  return new Proxy(api, {
    get(target, key, receiver) {
      if (typeof key === "string" && /^\d+$/.test(key)) return target.get(Number(key))
      return Reflect.get(target, key, receiver)
    },
    set(target, key, value) {
      if (typeof key === "string" && /^\d+$/.test(key)) {
        target.set(Number(key), value)
        return true
      }
      throw new ValidationError(`cannot set ${String(key)} on a list`, path)
    },
  })
}
