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

type Proxied = Record<string | number, unknown>

/** Every draft object says which kind of value it stands for (see kindOfDraftValue). */
const KIND = Symbol("cairn.draftKind")

type Kinded = { readonly [KIND]: TaggedKind }

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
 * A map or list of the change, or one the document lacks that a write would
 * create: a field the definition fills in (see withDefaults) reads as
 * its default until a change writes to it, and only then is it written.
 */
interface Container {
  /** The container's Automerge proxy, or undefined while it does not exist. */
  get(): Proxied | undefined
  /** The proxy, creating the container (and every missing map above it) if needed. */
  make(): Proxied
}

const existing = (proxy: Proxied): Container => ({ get: () => proxy, make: () => proxy })

/** The container at `key` of `parent`: `initial` is what a write stores there when it is missing. */
function childContainer(parent: Container, key: string | number, initial: () => unknown): Container {
  return {
    get: () => parent.get()?.[key] as Proxied | undefined,
    make: () => {
      const proxy = parent.make()
      if (proxy[key] === undefined) proxy[key] = initial()
      return proxy[key] as Proxied
    },
  }
}

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
  return mapDraft(existing(data), fields ? { kind: "map", fields } : undefined, path, root)
}

function fieldOfKey(field: FieldJSON | undefined, key: string): FieldJSON | undefined {
  if (!field) return undefined
  if (field.kind === "map") return field.fields[key]
  if (field.kind === "record") return field.of
  return undefined
}

function mapDraft(map: Container, field: FieldJSON | undefined, path: Path, root: A.Doc<unknown> | undefined): object {
  // Declared fields a missing value reads as a default for; a record's keys are not declared (a missing key is absent).
  const declared = field?.kind === "map" ? field.fields : undefined
  const keys = () => {
    const present = Object.keys(map.get() ?? {})
    if (!declared) return present
    const filled = Object.keys(declared).filter(key => !present.includes(key) && missingValue(declared[key]!) !== undefined)
    return [...present, ...filled]
  }
  const read = (key: string) => wrap(map, key, fieldOfKey(field, key), [...path, key], root, declared !== undefined)
  // The proxy's target is a stand-in: the map may not exist yet, and every trap reads the document.
  return new Proxy({} as Proxied, {
    get(_, key) {
      if (key === KIND) return "map"
      if (typeof key === "symbol") return Reflect.get(map.get() ?? {}, key)
      return read(key)
    },
    set(_, key, value) {
      if (typeof key === "symbol") throw new ValidationError("symbol keys cannot be stored", path)
      const sub = fieldOfKey(field, key)
      if (field && !sub) throw new ValidationError(`unknown field ${JSON.stringify(key)}`, [...path, key])
      const stored = sub ? toStored(sub, value, [...path, key]) : fromTagged(value, [...path, key])
      const obj = map.make()
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
  root: A.Doc<unknown> | undefined,
  declared = false,
): unknown {
  const proxy = parent.get()
  if (field?.kind === "text" && root && proxy) {
    // Find the text without reading it (reading a text builds the whole string).
    const backend = A.getBackend(root)
    const found = backend.getWithType(A.getObjectId(proxy as A.Doc<unknown>) as string, key)
    if (found?.[0] === "text") return textDraft(existing(proxy), key, undefined, () => backend.length(found[1] as string))
  }
  const value = proxy?.[key]
  if (value === undefined) return declared && field ? missingDraft(parent, key, field, path, root) : undefined
  const at = existing(proxy!)
  if (value === null) return value
  if (value instanceof A.ImmutableString) return value.val
  if (value instanceof A.Counter) return counterDraft(at, key, 0)
  if (typeof value === "string") return textDraft(at, key, undefined)
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
function missingDraft(parent: Container, key: string | number, field: FieldJSON, path: Path, root: A.Doc<unknown> | undefined): unknown {
  const start = missingValue(field)
  if (start === undefined) return undefined
  switch (field.kind) {
    case "counter":
      return counterDraft(parent, key, start as number)
    case "text":
      return textDraft(parent, key, start as string)
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

/**
 * Text at `key` of `parent`. `start`, for text the document lacks, is what it
 * reads as and is created with on the first write; for text that is there,
 * undefined, so a splice never reads the text to see whether it exists.
 */
function textDraft(parent: Container, key: string | number, start: string | undefined, length?: () => number): DraftText {
  const read = () => (parent.get()?.[key] as string | undefined) ?? start ?? ""
  const lengthOf = length ?? (() => read().length)
  const made = () => {
    const proxy = parent.make()
    if (start !== undefined && proxy[key] === undefined) proxy[key] = start
    return proxy as A.Doc<unknown>
  }
  const draft: DraftText & Kinded = {
    [KIND]: "text",
    get value() {
      return read()
    },
    get length() {
      return lengthOf()
    },
    splice(index, deleteCount, insert) {
      const length = lengthOf()
      if (!Number.isInteger(index) || index < 0 || index > length)
        throw new RangeError(`splice position ${index} is outside the text (length ${length})`)
      if (!Number.isInteger(deleteCount) || deleteCount < 0 || index + deleteCount > length)
        throw new RangeError(`cannot delete ${deleteCount} characters at ${index} from text of length ${length}`)
      A.splice(made(), [key], index, deleteCount, insert)
    },
    set(text) {
      A.updateText(made(), [key], text)
    },
    toString() {
      return read()
    },
  }
  return draft
}

function listDraft(
  container: Container,
  itemField: FieldJSON | undefined,
  typed: boolean,
  path: Path,
  root: A.Doc<unknown> | undefined,
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
