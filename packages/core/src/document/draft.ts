/**
 * The typed draft handed to `change` callbacks: a thin view over Automerge's
 * change proxy that speaks the app's form. Assigning a string to a string
 * register stores an `ImmutableString` (Automerge would otherwise make it
 * collaborative text); counters and text are small objects with the
 * operations that merge well (`increment`, `splice`); lists have explicit
 * insert/delete. A declared field the document lacks (it was made without
 * this definition) reads as its default, and the first write creates it.
 * Where there is no definition (a relay, the CLI), the kind of each new
 * value comes from tagged JSON, and existing values keep their kind.
 */
import * as A from "@automerge/automerge"
import { KindChangeError, ValidationError } from "../errors.js"
import type { CounterValue, FieldJSON, TextValue } from "../schema/fields.js"
import { fromTagged, isPlainObject, kindOfStored, missingValue, toStored, type Path, type TaggedKind } from "../schema/values.js"
import { childContainer, type Container, dataContainer, existing, KIND, type Kinded, type Proxied } from "./draftContainer.js"
import { type DraftText, textAt, textDraft } from "./textDraft.js"

export type { DraftText }

/** A counter inside a draft. */
export interface DraftCounter {
  readonly value: number
  /** Add `by` (default 1; negative subtracts). Concurrent increments add up. */
  increment(by?: number): void
  /** Subtract `by` (default 1). */
  decrement(by?: number): void
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

type SetOf<T> = T extends CounterValue
  ? number
  : T extends TextValue
    ? string
    : T extends readonly (infer I)[]
      ? SetOf<I>[]
      : T extends Record<string, any>
        ? { [K in keyof T]: SetOf<T[K]> }
        : T

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

type DraftMap<T> = { [K in keyof T]: Drafted<T[K]> } & {
  -readonly [K in keyof T as T[K] extends CounterValue | TextValue | readonly any[] ? never : K]: Drafted<T[K]> | SetOf<T[K]>
}

/** Draft of a type's data given its fields' value types. */
export type Draft<Data> = DraftMap<Data>

/** The kind of a value read from a draft (a counter, text, list or map draft, or a register's value); undefined where there is none. */
export function kindOfDraftValue(value: unknown): TaggedKind | undefined {
  if (value === undefined) return undefined
  if (typeof value !== "object" || value === null) return "register"
  return (value as Partial<Kinded>)[KIND] ?? "map"
}

/**
 * Refuse to replace `current` (read from a draft) with `next` (tagged JSON)
 * if that changes its kind: where no definition says what a field is, a
 * counter set to "abc" would silently become a string register. A string
 * given for text keeps it text (see mapDraft), so that is no change.
 * Throws KindChangeError, or ValidationError for an unknown tag.
 */
export function assertSameKind(current: unknown, next: unknown, path: Path): void {
  // The whole value is read first: an unknown tag anywhere in it is the error to report, not its kind.
  const to = kindOfStored(fromTagged(next, path))
  const from = kindOfDraftValue(current)
  if (from === undefined || from === to || (from === "text" && typeof next === "string")) return
  throw new KindChangeError(path, from, to)
}

/**
 * The draft of a document's `data` map in a change (`root`, the change's
 * root proxy). `fields` is the definition, or undefined when there is none.
 * A draft reaches nothing outside the data: not the envelope (the type, the
 * creator), nor Automerge's own state behind the proxies.
 *
 * With a definition, every write is checked as it is made: assigned values
 * against their field (`toStored`), list items against the list's, and a
 * delete against the field being optional. So a change made through a typed
 * draft leaves valid data behind without the whole document being read
 * again afterwards (for a note, that re-read was its whole text on every
 * keystroke). `root` is the change's root proxy: through it text is found
 * and edited without being read (see textDraft.ts).
 */
export function draftOfData(root: A.Doc<unknown>, fields: Record<string, FieldJSON> | undefined): object {
  return mapDraft(dataContainer(root), fields ? { kind: "map", fields } : undefined, [], root)
}

function fieldOfKey(field: FieldJSON | undefined, key: string): FieldJSON | undefined {
  if (!field) return undefined
  if (field.kind === "map") return field.fields[key]
  if (field.kind === "record") return field.of
  return undefined
}

function mapDraft(map: Container, field: FieldJSON | undefined, path: Path, root: A.Doc<unknown>): object {
  // Declared fields a missing value reads as a default for; a record's keys are not declared (a missing key is absent).
  const declared = field?.kind === "map" ? field.fields : undefined
  const keys = () => {
    // From the backend: Object.keys on Automerge's proxy asks for every property's descriptor, which reads every value, a text whole.
    const proxy = map.get()
    const present = proxy ? [...new Set(A.getBackend(root).keys(A.getObjectId(proxy as A.Doc<unknown>) as string))] : []
    if (!declared) return present
    const filled = Object.keys(declared).filter(key => !present.includes(key) && missingValue(declared[key]!) !== undefined)
    return [...present, ...filled]
  }
  const read = (key: string) => wrap(map, key, fieldOfKey(field, key), [...path, key], root, declared !== undefined)
  // The proxy's target is a stand-in: the map may not exist yet, and every trap reads the document.
  return new Proxy({} as Proxied, {
    get(_, key) {
      if (key === KIND) return "map"
      // Automerge's symbols lead to its state (the whole document): a draft has none of its own but KIND.
      if (typeof key === "symbol") return undefined
      return read(key)
    },
    set(_, key, value) {
      if (typeof key === "symbol") throw new ValidationError("symbol keys cannot be stored", path)
      const sub = fieldOfKey(field, key)
      if (field && !sub) throw new ValidationError(`unknown field ${JSON.stringify(key)}`, [...path, key])
      const stored = sub ? toStored(sub, value, [...path, key]) : fromTagged(value, [...path, key])
      const obj = map.make()
      const text = (sub?.kind === "text" || (!sub && typeof value === "string")) && textAt(root, existing(obj), key)
      if (text) {
        // Text stays text (with no definition too, a string keeps it text), changed by a minimal diff.
        A.getBackend(root).updateText(text, (sub ? stored : value) as string)
      } else {
        obj[key] = stored
      }
      return true
    },
    deleteProperty(_, key) {
      if (typeof key === "symbol") return false
      const sub = declared?.[key]
      if (sub && !sub.optional) throw new ValidationError("missing required field", [...path, key])
      const obj = map.get()
      if (obj) delete obj[key]
      return true
    },
    has(_, key) {
      return typeof key === "string" && keys().includes(key)
    },
    ownKeys() {
      return keys()
    },
    getOwnPropertyDescriptor(_, key) {
      if (typeof key === "symbol" || !keys().includes(key)) return undefined
      return { configurable: true, enumerable: true, writable: true, value: read(key) }
    },
  })
}

/** The draft of the value at `key` of `parent`; `declared` when the key is a declared field of a map, which reads as its default while missing. */
function wrap(
  parent: Container,
  key: string | number,
  field: FieldJSON | undefined,
  path: Path,
  root: A.Doc<unknown>,
  declared = false,
): unknown {
  // Text is found without being read (reading a text builds the whole string); a field declared as another kind is read as usual.
  if (field === undefined || field.kind === "text") {
    const id = textAt(root, parent, key)
    if (id !== undefined) return textDraft(root, parent, key, id)
  }
  const proxy = parent.get()
  const value = proxy?.[key]
  if (value === undefined) return declared && field ? missingDraft(parent, key, field, path, root) : undefined
  const at = existing(proxy!)
  if (value === null) return value
  if (value instanceof A.ImmutableString) return value.val
  if (value instanceof A.Counter) return counterDraft(at, key, 0)
  if (typeof value === "string") return textDraft(root, at, key, textAt(root, at, key))
  if (Array.isArray(value))
    return listDraft(
      childContainer(at, key, () => []),
      field?.kind === "list" ? field.of : undefined,
      field !== undefined,
      path,
      root,
    )
  if (isPlainObject(value))
    return mapDraft(
      childContainer(at, key, () => ({})),
      field,
      path,
      root,
    )
  return value
}

/**
 * A declared field the document lacks: it reads as its default (as the
 * document does, see withDefaults), and a write creates it. A field
 * with no way to start (a required string with no default) reads as undefined.
 * Two peers that create the same missing counter, list or map concurrently
 * make two objects, and one wins: what the other wrote into its own is lost.
 */
function missingDraft(parent: Container, key: string | number, field: FieldJSON, path: Path, root: A.Doc<unknown>): unknown {
  const start = missingValue(field)
  if (start === undefined) return undefined
  switch (field.kind) {
    case "counter":
      return counterDraft(parent, key, start as number)
    case "text":
      return textDraft(root, parent, key, undefined, start as string)
    case "list":
      return listDraft(
        childContainer(parent, key, () => []),
        field.of,
        true,
        path,
        root,
      )
    case "map":
    case "record":
      return mapDraft(
        childContainer(parent, key, () => ({})),
        field,
        path,
        root,
      )
    default:
      return start
  }
}

function counterDraft(parent: Container, key: string | number, start: number): DraftCounter {
  const read = () => parent.get()?.[key] as A.Counter | undefined
  const counter = () => {
    const found = read()
    if (found !== undefined) return found
    parent.make()[key] = new A.Counter(start)
    return read()!
  }
  const draft: DraftCounter & Kinded = {
    [KIND]: "counter",
    get value() {
      return read()?.value ?? start
    },
    increment(by = 1) {
      counter().increment(by)
    },
    decrement(by = 1) {
      counter().decrement(by)
    },
  }
  return draft
}

function listDraft(
  container: Container,
  itemField: FieldJSON | undefined,
  typed: boolean,
  path: Path,
  root: A.Doc<unknown>,
): DraftList<unknown> {
  const read = () => container.get() as (Proxied & unknown[]) | undefined
  const list = () => container.make() as Proxied & unknown[]
  const lengthOf = () => read()?.length ?? 0
  const store = (value: unknown, index: number) =>
    typed && itemField ? toStored(itemField, value, [...path, index]) : fromTagged(value, [...path, index])
  const checkIndex = (index: number, allowEnd: boolean) => {
    const length = lengthOf()
    const max = allowEnd ? length : length - 1
    if (!Number.isInteger(index) || index < 0 || index > max) throw new RangeError(`list index ${index} is out of range (length ${length})`)
  }
  const item = (index: number) => wrap(existing(read()!), index, itemField, [...path, index], root)
  const api: DraftList<unknown> & Kinded = {
    [KIND]: "list",
    get length() {
      return lengthOf()
    },
    get(index) {
      return index >= 0 && index < lengthOf() ? item(index) : undefined
    },
    set(index, value) {
      checkIndex(index, true)
      list()[index] = store(value, index)
    },
    push(...values) {
      const start = lengthOf()
      const stored = values.map((v, i) => store(v, start + i))
      ;(list() as unknown as A.List<unknown>).insertAt(start, ...stored)
    },
    insert(index, ...values) {
      checkIndex(index, true)
      const stored = values.map((v, i) => store(v, index + i))
      ;(list() as unknown as A.List<unknown>).insertAt(index, ...stored)
    },
    delete(index, count = 1) {
      checkIndex(index, false)
      ;(list() as unknown as A.List<unknown>).deleteAt(index, Math.min(count, lengthOf() - index))
    },
    toArray() {
      return Array.from({ length: lengthOf() }, (_, i) => item(i))
    },
    [Symbol.iterator]() {
      return api.toArray()[Symbol.iterator]()
    },
  } as DraftList<unknown> & Kinded
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
