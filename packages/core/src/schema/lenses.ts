/**
 * Lenses: how a version of a type reads the documents of an earlier version
 * as its own shape, and writes its own shape back into theirs.
 *
 * A lens is data, not code (a list of operations from a fixed vocabulary), so
 * it travels in a definition's JSON to peers that have no app code. A
 * document's stored shape is fixed by the version it was created at (the
 * envelope's `typeVersion`); an app reads it forward through the lens chain
 * to its own version and writes back through the inverse. Nothing is ever
 * migrated by writing CRDT edits, so two peers upgrading at once cannot
 * duplicate data or fight over it: a rename edits the same Automerge object
 * under its stored key, whichever version makes the edit.
 *
 * Operations (paths are lists of keys from the data's root):
 * - `rename` `from` → `to`: also moves a field into or out of a map;
 * - `wrap` a register into a list of it (back: its first item), `head` the reverse;
 * - `convert` a register's scalar kind, from a fixed vocabulary: number ↔
 *   string (canonical decimal), boolean ↔ string, and a value mapping table
 *   (`map`, pairs `[old, new]`, one to one) for enums and booleans; or a
 *   string register ↔ collaborative text (the same characters: on the
 *   register's side an edit replaces the whole value, last writer wins; on
 *   the text's side it is a minimal diff of splices).
 */
import { TypeDefinitionError, ValidationError } from "../errors.js"
import type { FieldJSON, ScalarName } from "./fields.js"

export type LensPath = string[]
type Scalar = string | number | boolean | null
/** What a conversion converts between: a register's scalar, or text (a string register ↔ text only). */
export type ConvertKind = ScalarName | "text"

export type LensOp =
  | { op: "rename"; from: LensPath; to: LensPath }
  | { op: "wrap"; path: LensPath }
  | { op: "head"; path: LensPath }
  | { op: "convert"; path: LensPath; from: ConvertKind; to: ConvertKind; map?: [Scalar, Scalar][] }

/** One step of a chain: how version `from` reads as version `to` (to = from + 1 is usual, but any higher version works). */
export interface LensStep {
  from: number
  to: number
  ops: LensOp[]
}

const CONVERSIONS = new Set([
  "number>string",
  "string>number",
  "boolean>string",
  "string>boolean",
  "string>string",
  "string>text",
  "text>string",
])

/** Check a lens step's JSON form (throws TypeDefinitionError naming what is wrong). */
export function checkLensStep(json: unknown, where: string): LensStep {
  if (typeof json !== "object" || json === null) throw new TypeDefinitionError(`${where}: a lens step must be an object`)
  const o = json as Record<string, unknown>
  if (!Number.isInteger(o.from) || !Number.isInteger(o.to) || (o.from as number) < 1 || (o.to as number) <= (o.from as number))
    throw new TypeDefinitionError(`${where}: a lens step needs integer versions "from" ≥ 1 and "to" > "from"`)
  if (!Array.isArray(o.ops)) throw new TypeDefinitionError(`${where}: a lens step needs "ops" (a list)`)
  return { from: o.from as number, to: o.to as number, ops: o.ops.map((op, i) => checkOp(op, `${where}.ops[${i}]`)) }
}

function checkPath(path: unknown, where: string): LensPath {
  if (!Array.isArray(path) || path.length === 0 || !path.every(key => typeof key === "string" && key.length > 0 && !key.startsWith("$")))
    throw new TypeDefinitionError(`${where}: a path must be a non-empty list of field names`)
  return [...path]
}

function checkOp(json: unknown, where: string): LensOp {
  if (typeof json !== "object" || json === null) throw new TypeDefinitionError(`${where}: a lens operation must be an object`)
  const o = json as Record<string, unknown>
  switch (o.op) {
    case "rename": {
      const from = checkPath(o.from, `${where}.from`)
      const to = checkPath(o.to, `${where}.to`)
      if (isPrefix(from, to) || isPrefix(to, from)) throw new TypeDefinitionError(`${where}: a field cannot be renamed into or onto itself`)
      return { op: "rename", from, to }
    }
    case "wrap":
    case "head":
      return { op: o.op, path: checkPath(o.path, `${where}.path`) }
    case "convert": {
      const path = checkPath(o.path, `${where}.path`)
      if (!CONVERSIONS.has(`${o.from}>${o.to}`))
        throw new TypeDefinitionError(
          `${where}: no conversion from ${JSON.stringify(o.from)} to ${JSON.stringify(o.to)} (known: ${[...CONVERSIONS].join(", ")})`,
        )
      const op = { op: "convert" as const, path, from: o.from as ConvertKind, to: o.to as ConvertKind }
      if (o.map !== undefined && (op.from === "text" || op.to === "text"))
        throw new TypeDefinitionError(`${where}: a conversion between a string and text keeps every character: it takes no "map"`)
      if (o.map === undefined) {
        if (op.from === "string" && op.to === "string")
          throw new TypeDefinitionError(`${where}: a string to string conversion needs a "map"`)
        return op
      }
      if (!Array.isArray(o.map) || !o.map.every(pair => Array.isArray(pair) && pair.length === 2))
        throw new TypeDefinitionError(`${where}: "map" must be a list of [old, new] pairs`)
      const map = o.map as [Scalar, Scalar][]
      for (const [old, next] of map) {
        if (typeof old !== op.from || typeof next !== op.to)
          throw new TypeDefinitionError(`${where}: the pair ${JSON.stringify([old, next])} is not [${op.from}, ${op.to}]`)
      }
      // One to one, or writing back could not tell which old value a new one came from.
      if (new Set(map.map(pair => pair[0])).size !== map.length || new Set(map.map(pair => pair[1])).size !== map.length)
        throw new TypeDefinitionError(`${where}: "map" must be one to one (each old and each new value once)`)
      return { ...op, map }
    }
    default:
      throw new TypeDefinitionError(`${where}: unknown lens operation ${JSON.stringify(o.op)} (rename, wrap, head, convert)`)
  }
}

/** The ops that take a document of version `from` to version `to`, through `steps` (undefined when the chain has a gap). */
export function chainOps(steps: readonly LensStep[], from: number, to: number): LensOp[] | undefined {
  const ops: LensOp[] = []
  let at = from
  while (at < to) {
    const step = steps.find(candidate => candidate.from === at && candidate.to <= to)
    if (!step) return undefined
    ops.push(...step.ops)
    at = step.to
  }
  return ops
}

/** The operations that read the newer shape as the older one: an older app's lens onto a newer version's documents. */
export function invertOps(ops: readonly LensOp[]): LensOp[] {
  return [...ops].reverse().map((op): LensOp => {
    if (op.op === "rename") return { op: "rename", from: op.to, to: op.from }
    if (op.op === "wrap") return { op: "head", path: op.path }
    if (op.op === "head") return { op: "wrap", path: op.path }
    const inverse: LensOp = { op: "convert", path: op.path, from: op.to, to: op.from }
    if (op.map) inverse.map = op.map.map(([old, next]) => [next, old])
    return inverse
  })
}

/** Plain data of the older shape, read as the newer one (a new tree; `data` is not changed). */
export function lensForward(ops: readonly LensOp[], data: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(data)
  for (const op of ops) applyOp(op, out, "forward")
  return out
}

/** Plain data of the newer shape, written back as the older one. Throws ValidationError when a value has no older form. */
export function lensBackward(ops: readonly LensOp[], data: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(data)
  for (const op of [...ops].reverse()) applyOp(op, out, "backward")
  return out
}

type Direction = "forward" | "backward"

function applyOp(op: LensOp, data: Record<string, unknown>, direction: Direction): void {
  if (op.op === "rename") {
    const [from, to] = direction === "forward" ? [op.from, op.to] : [op.to, op.from]
    const value = getPath(data, from)
    if (value === undefined) return
    deletePath(data, from)
    pruneEmptied(data, from.slice(0, -1))
    setPath(data, to, value)
    return
  }
  const value = getPath(data, op.path)
  if (value === undefined) return
  const wraps = (op.op === "wrap") === (direction === "forward")
  if (op.op === "wrap" || op.op === "head") {
    if (wraps) setPath(data, op.path, [value])
    else if (Array.isArray(value) && value.length > 0) setPath(data, op.path, value[0])
    else deletePath(data, op.path)
    return
  }
  try {
    setPath(data, op.path, convertValue(op, value, direction, op.path))
  } catch (error) {
    // A value outside the conversion (written by a peer, not by a checked draft) reads as it is stored, never lost.
    if (!(error instanceof ValidationError)) throw error
  }
}

/** One register value through a conversion, either way (ValidationError when it has no form on the other side). */
export function convertValue(op: Extract<LensOp, { op: "convert" }>, value: unknown, direction: Direction, path: string[]): unknown {
  const [from, to] = direction === "forward" ? [op.from, op.to] : [op.to, op.from]
  // Text and a string register hold the same characters; which of the two is stored is the draft's business.
  if (from === "text" || to === "text") return value
  if (typeof value !== from) return value
  if (op.map) {
    const pair = op.map.find(candidate => candidate[direction === "forward" ? 0 : 1] === value)
    if (pair) return pair[direction === "forward" ? 1 : 0]
    if (from === to) return value
  } else if (from === "number" && to === "string") return String(value)
  else if (from === "string" && to === "number") {
    const number = Number(value)
    if (value !== "" && Number.isFinite(number) && String(number) === value) return number
  } else if (from === "boolean" && to === "string") return String(value)
  else if (from === "string" && to === "boolean" && (value === "true" || value === "false")) return value === "true"
  throw new ValidationError(
    `${JSON.stringify(value)} has no ${to} form for documents of the other version (lens convert ${op.from} ↔ ${op.to})`,
    path,
  )
}

/**
 * The stored shape of an older version, derived from the newer version's
 * fields and the lens: what a document of that version is validated and
 * written against, without the older definition at hand.
 */
export function lensBackwardFields(ops: readonly LensOp[], fields: Record<string, FieldJSON>): Record<string, FieldJSON> {
  const root: FieldJSON = { kind: "map", fields: structuredClone(fields) }
  for (const op of [...ops].reverse()) {
    if (op.op === "rename") {
      const field = getField(root, op.to)
      if (!field) continue
      deleteField(root, op.to)
      setField(root, op.from, field)
      continue
    }
    const field = getField(root, op.path)
    if (!field) continue
    if (op.op === "wrap" && field.kind === "list") setField(root, op.path, { ...field.of, optional: true })
    else if (op.op === "head") setField(root, op.path, { kind: "list", of: stripOptional(field) })
    else if (op.op === "convert") {
      const converted = convertedField(op, field)
      if (converted) setField(root, op.path, converted)
    }
  }
  return (root as Extract<FieldJSON, { kind: "map" }>).fields
}

/** The older version's field a conversion came from, given the newer one's (undefined: the field is not what the lens converts to). */
function convertedField(op: Extract<LensOp, { op: "convert" }>, field: FieldJSON): FieldJSON | undefined {
  const mayLack = field.optional || "default" in field ? { optional: true as const } : {}
  if (op.to === "text") return field.kind === "text" ? { kind: "register", of: "string", ...mayLack } : undefined
  if (field.kind !== "register" || field.of !== op.to) return undefined
  if (op.from === "text") return field.of === "string" ? { kind: "text", ...mayLack } : undefined
  const out: FieldJSON = { kind: "register", of: op.from, ...mayLack }
  if (op.from === "string" && field.values) {
    out.values = field.values.map(value => {
      const back = convertValue(op, value, "backward", op.path)
      return typeof back === "string" ? back : value
    })
  }
  return out
}

function stripOptional(field: FieldJSON): FieldJSON {
  const { optional: _, ...rest } = field
  return rest as FieldJSON
}

/** The paths a lens touches, in either shape: what the compatibility check may call covered. */
export function lensPaths(ops: readonly LensOp[]): string[][] {
  return ops.flatMap(op => (op.op === "rename" ? [op.from, op.to] : [op.path]))
}

export function isPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((key, i) => path[i] === key)
}

function getPath(data: Record<string, unknown>, path: LensPath): unknown {
  let at: unknown = data
  for (const key of path) {
    if (typeof at !== "object" || at === null || Array.isArray(at)) return undefined
    at = (at as Record<string, unknown>)[key]
  }
  return at
}

function setPath(data: Record<string, unknown>, path: LensPath, value: unknown): void {
  let at = data
  for (const key of path.slice(0, -1)) {
    if (typeof at[key] !== "object" || at[key] === null || Array.isArray(at[key])) at[key] = {}
    at = at[key] as Record<string, unknown>
  }
  at[path.at(-1)!] = value
}

function deletePath(data: Record<string, unknown>, path: LensPath): void {
  const parent = getPath(data, path.slice(0, -1))
  if (typeof parent === "object" && parent !== null) delete (parent as Record<string, unknown>)[path.at(-1)!]
}

/** A map left empty by moving its field out was only the field's container: it goes too, so moving back and forth is exact. */
function pruneEmptied(data: Record<string, unknown>, path: LensPath): void {
  for (let depth = path.length; depth > 0; depth--) {
    const map = getPath(data, path.slice(0, depth))
    if (typeof map !== "object" || map === null || Object.keys(map).length > 0) return
    deletePath(data, path.slice(0, depth))
  }
}

function getField(root: FieldJSON, path: LensPath): FieldJSON | undefined {
  let at: FieldJSON | undefined = root
  for (const key of path) at = at?.kind === "map" ? at.fields[key] : undefined
  return at
}

function setField(root: FieldJSON, path: LensPath, field: FieldJSON): void {
  let at = root
  for (const key of path.slice(0, -1)) {
    if (at.kind !== "map") return
    // A map the older shape has that the newer one moved out of: it may be missing in older documents too.
    at.fields[key] ??= { kind: "map", fields: {}, optional: true }
    at = at.fields[key]!
  }
  if (at.kind === "map") at.fields[path.at(-1)!] = field
}

function deleteField(root: FieldJSON, path: LensPath): void {
  const parent = getField(root, path.slice(0, -1))
  if (parent?.kind === "map") delete parent.fields[path.at(-1)!]
}
