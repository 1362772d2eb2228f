/**
 * The draft an app of a newer version gets for a document created at an
 * older one: its own shape, laid over the typed draft of the stored shape
 * through the lens (see schema/lenses.ts). A renamed field is the stored
 * field under its new name (the same Automerge object, so a text splice made
 * by either version merges with the other's); a converted register reads
 * through the conversion and is written back through its inverse; a wrapped
 * or unwrapped register reads and is assigned whole, and so does a string
 * register the app sees as text (its splices rewrite the register: the
 * stored shape cannot merge characters). Every write still goes
 * through the stored-shape draft, which checks it.
 */
import type * as A from "@automerge/automerge"
import { ValidationError } from "../errors.js"
import { convertValue, isPrefix, type LensOp, lensPaths } from "../schema/lenses.js"
import { storedDataFieldOf, type TypeDefinition } from "../schema/TypeDefinition.js"
import { type DraftList, draftOfData } from "./draft.js"
import { checkSplice, type DraftText } from "./textDraft.js"
import type { Envelope } from "./envelope.js"

type Reshape = Exclude<LensOp, { op: "rename" }>

/** `draft`: the typed draft of the stored data; `ops`: the lens from its version to the app's. */
export function lensedDraft(draft: object, ops: readonly LensOp[]): object {
  return viewMap(draft, ops, lensPaths(ops), [])
}

/** The path in the app's shape of a stored path: each rename applied in order (the inverse of `resolve`'s walk). */
function forwardPath(ops: readonly LensOp[], storedPath: string[]): string[] {
  let path = storedPath
  for (const op of ops) if (op.op === "rename" && isPrefix(op.from, path)) path = [...op.to, ...path.slice(op.from.length)]
  return path
}

/** The stored path of a path in the app's shape, and the reshaping ops on its way (newest first). */
function resolve(ops: readonly LensOp[], viewPath: string[]): { stored: string[]; reshapes: Reshape[] } {
  let path = viewPath
  const reshapes: Reshape[] = []
  for (const op of [...ops].reverse()) {
    if (op.op === "rename") {
      if (isPrefix(op.to, path)) path = [...op.from, ...path.slice(op.to.length)]
    } else if (op.path.length === path.length && isPrefix(op.path, path)) reshapes.push(op)
  }
  return { stored: path, reshapes }
}

function at(draft: object, path: string[]): unknown {
  let value: unknown = draft
  for (const key of path) value = value === undefined || value === null ? undefined : (value as Record<string, unknown>)[key]
  return value
}

/** A draft value in plain form (a reshaped field is read whole). */
function plainOf(value: unknown): unknown {
  if (typeof value === "object" && value !== null && "toArray" in value) return (value as { toArray(): unknown[] }).toArray().map(plainOf)
  if (typeof value === "object" && value !== null && "value" in value) return (value as { value: unknown }).value
  return value
}

function forward(reshapes: Reshape[], value: unknown, path: string[]): unknown {
  let out = value
  for (const op of [...reshapes].reverse()) {
    if (op.op === "convert") out = out === undefined ? out : convertValue(op, out, "forward", path)
    else if (op.op === "wrap") out = out === undefined ? [] : [out]
    else out = Array.isArray(out) ? out[0] : out
  }
  return out
}

function backward(reshapes: Reshape[], value: unknown, path: string[]): unknown {
  let out = value
  for (const op of reshapes) {
    if (op.op === "convert") out = out === undefined ? out : convertValue(op, out, "backward", path)
    else if (op.op === "wrap") {
      if (!Array.isArray(out) || out.length > 1)
        throw new ValidationError("documents of the older version hold one value here: assign a list of at most one item", path)
      out = out[0]
    } else out = out === undefined ? [] : [out]
  }
  return out
}

/**
 * A list the app sees where the document stores another shape (a register
 * wrapped into a list): each list operation reads the whole list, changes it
 * and writes it back through the lens, which refuses what the stored shape
 * cannot hold (a second item in a wrapped register).
 */
function wholeList(read: () => unknown[], write: (items: unknown[]) => void): object {
  const edit = (change: (items: unknown[]) => void) => {
    const items = [...read()]
    change(items)
    write(items)
  }
  const list = {
    get length() {
      return read().length
    },
    get: (index: number) => read()[index],
    set: (index: number, value: unknown) => edit(items => void (items[index] = value)),
    push: (...values: unknown[]) => edit(items => void items.push(...values)),
    insert: (index: number, ...values: unknown[]) => edit(items => void items.splice(index, 0, ...values)),
    delete: (index: number, count = 1) => edit(items => void items.splice(index, count)),
    toArray: () => read(),
    [Symbol.iterator]: () => read()[Symbol.iterator](),
  }
  return new Proxy(list, {
    get: (target, key) => (typeof key === "string" && /^\d+$/.test(key) ? read()[Number(key)] : Reflect.get(target, key)),
    set: (target, key, value) => {
      if (typeof key === "string" && /^\d+$/.test(key)) target.set(Number(key), value)
      else return false
      return true
    },
  })
}

/** Text the app sees where the document stores a string register: each edit writes the whole new value back. */
function wholeText(read: () => string, write: (text: string) => void): DraftText {
  return {
    get value() {
      return read()
    },
    get length() {
      return read().length
    },
    splice(index, deleteCount, insert = "") {
      const text = read()
      checkSplice(index, deleteCount, text.length)
      write(text.slice(0, index) + insert + text.slice(index + deleteCount))
    },
    set: text => write(text),
    toString: () => read(),
  }
}

function viewMap(draft: object, ops: readonly LensOp[], touched: string[][], prefix: string[]): object {
  const place = (key: string) => {
    const path = [...prefix, key]
    const { stored, reshapes } = resolve(ops, path)
    return { path, stored, reshapes, parent: at(draft, stored.slice(0, -1)) as Record<string, unknown> | undefined }
  }
  const read = (key: string | symbol): unknown => {
    if (typeof key === "symbol") return undefined
    const { path, stored, reshapes } = place(key)
    if (reshapes.length > 0) {
      const value = forward(reshapes, plainOf(at(draft, stored)), path)
      const last = reshapes[0]!
      if (last.op === "convert" && last.to === "text" && typeof value === "string")
        return wholeText(
          () => forward(reshapes, plainOf(at(draft, stored)), path) as string,
          text => write(key, text),
        )
      if (!Array.isArray(value)) return value
      return wholeList(
        () => forward(reshapes, plainOf(at(draft, stored)), path) as unknown[],
        items => write(key, items),
      )
    }
    // A map some lens operation reaches into (a field moved in or out of it) is itself seen through the lens.
    if (touched.some(other => other.length > path.length && isPrefix(path, other))) return viewMap(draft, ops, touched, path)
    return at(draft, stored)
  }
  const write = (key: string, value: unknown): void => {
    const { path, stored, reshapes, parent } = place(key)
    if (!parent) throw new ValidationError("no map to write into", stored.slice(0, -1))
    const list =
      reshapes.length === 1 && reshapes[0]!.op === "head" ? (parent[stored.at(-1)!] as DraftList<unknown> | undefined) : undefined
    if (typeof list === "object" && list !== null && "push" in list) {
      // A register the document stores as a list (a newer version's): it is the list's first item, and the others stay.
      if (value === undefined) list.delete(0)
      else if (list.length > 0) list.set(0, value)
      else list.push(value)
      return
    }
    const back = backward(reshapes, value, path)
    if (back === undefined) delete parent[stored.at(-1)!]
    else parent[stored.at(-1)!] = back
  }
  // The app's keys here: the stored map's keys under their names in the app's shape, and the places renames move fields
  // to, each only where it reads as something (so `Object.keys`, `in` and spread see the app's fields, not the stored ones).
  const keys = (): string[] => {
    const found = new Set<string>()
    const take = (viewPath: string[]) => {
      if (viewPath.length === prefix.length + 1 && isPrefix(prefix, viewPath)) found.add(viewPath.at(-1)!)
    }
    const storedPrefix = resolve(ops, prefix).stored
    const storedMap = at(draft, storedPrefix)
    if (typeof storedMap === "object" && storedMap !== null)
      for (const key of Object.keys(storedMap)) take(forwardPath(ops, [...storedPrefix, key]))
    for (const op of ops) if (op.op === "rename") for (let end = 1; end <= op.to.length; end++) take(op.to.slice(0, end))
    return [...found].filter(key => read(key) !== undefined)
  }
  return new Proxy({} as Record<string, unknown>, {
    get(_, key) {
      return read(key)
    },
    ownKeys() {
      return keys()
    },
    getOwnPropertyDescriptor(_, key) {
      if (typeof key === "symbol" || !keys().includes(key)) return undefined
      return { configurable: true, enumerable: true, writable: true, value: read(key) }
    },
    set(_, key, value) {
      if (typeof key === "symbol") throw new ValidationError("symbol keys cannot be stored", prefix)
      write(key, value)
      return true
    },
    deleteProperty(_, key) {
      if (typeof key === "symbol") return false
      const { stored, parent } = place(key)
      if (parent) delete parent[stored.at(-1)!]
      return true
    },
    has(_, key) {
      return typeof key === "string" && keys().includes(key)
    },
  })
}

/** The draft of a document's data for an app with `definition` (none: untyped): through the lens from the version it was created at. */
export function draftOfDocument(root: A.Doc<Envelope>, definition: TypeDefinition | undefined): object {
  if (!definition) return draftOfData(root as A.Doc<unknown>, undefined)
  const stored = storedDataFieldOf(definition, root.typeVersion)
  const draft = draftOfData(root as A.Doc<unknown>, stored.kind === "map" ? stored.fields : undefined)
  const ops = definition.lensFrom(root.typeVersion)
  return ops.length === 0 ? draft : lensedDraft(draft, ops)
}
