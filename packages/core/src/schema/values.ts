/**
 * Conversions between the three forms a value takes:
 *
 * - app form: what the app reads and writes (a counter is a number, text and
 *   string registers are both strings);
 * - stored form: what Automerge holds (a string register is an
 *   `ImmutableString`, text is a plain string, a counter is a `Counter`);
 * - tagged form: JSON that keeps the kinds without a schema
 *   (`"s"` register, `{"$text": "s"}`, `{"$counter": 3}`), used by exports,
 *   the CLI and documents of types this peer has no definition for.
 */
import { Counter, ImmutableString } from "@automerge/automerge"
import { ValidationError } from "../errors.js"
import type { FieldJSON } from "./fields.js"
import type { TaggedKind } from "./kinds.js"

export type Path = (string | number)[]

const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (value instanceof ImmutableString) return "a string register"
  if (value instanceof Counter) return "a counter"
  if (Array.isArray(value)) return "a list"
  if (typeof value === "object") return "a map"
  if (typeof value === "string") return `text ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`
  return `${typeof value} ${JSON.stringify(value)}`
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof ImmutableString) &&
    !(value instanceof Counter)
  )
}

/** Convert an app value to its stored form, checking it against the field. */
export function toStored(field: FieldJSON, value: unknown, path: Path): unknown {
  switch (field.kind) {
    case "register":
      return registerToStored(field, value, path)
    case "counter":
      if (value instanceof Counter) return new Counter(value.value)
      if (typeof value !== "number" || !Number.isFinite(value))
        throw new ValidationError(`expected a counter (a number), got ${describe(value)}`, path)
      return new Counter(value)
    case "text":
      if (typeof value === "string") return value
      if (value instanceof ImmutableString) return value.val
      throw new ValidationError(`expected text (a string), got ${describe(value)}`, path)
    case "map": {
      if (!isPlainObject(value)) throw new ValidationError(`expected a map (an object), got ${describe(value)}`, path)
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(value)) {
        if (!(key in field.fields)) throw new ValidationError(`unknown field ${JSON.stringify(key)}`, [...path, key])
      }
      for (const [key, sub] of Object.entries(field.fields)) {
        if (value[key] === undefined) {
          const filled = initialValue(sub, [...path, key])
          if (filled !== undefined) out[key] = filled
        } else {
          out[key] = toStored(sub, value[key], [...path, key])
        }
      }
      return out
    }
    case "record": {
      if (!isPlainObject(value)) throw new ValidationError(`expected a record (an object), got ${describe(value)}`, path)
      const out: Record<string, unknown> = {}
      for (const [key, sub] of Object.entries(value)) out[key] = toStored(field.of, sub, [...path, key])
      return out
    }
    case "list": {
      if (!Array.isArray(value)) throw new ValidationError(`expected a list (an array), got ${describe(value)}`, path)
      return value.map((item, i) => toStored(field.of, item, [...path, i]))
    }
  }
}

function registerToStored(field: Extract<FieldJSON, { kind: "register" }>, value: unknown, path: Path): unknown {
  const raw = value instanceof ImmutableString ? value.val : value
  switch (field.of) {
    case "string":
      if (typeof raw !== "string") throw new ValidationError(`expected a string, got ${describe(value)}`, path)
      if (field.values && !field.values.includes(raw)) {
        throw new ValidationError(
          `expected one of ${field.values.map(v => JSON.stringify(v)).join(", ")}, got ${JSON.stringify(raw)}`,
          path,
        )
      }
      return new ImmutableString(raw)
    case "number":
      if (typeof raw !== "number" || !Number.isFinite(raw))
        throw new ValidationError(`expected a finite number, got ${describe(value)}`, path)
      return raw
    case "boolean":
      if (typeof raw !== "boolean") throw new ValidationError(`expected a boolean, got ${describe(value)}`, path)
      return raw
    case "null":
      if (raw !== null) throw new ValidationError(`expected null, got ${describe(value)}`, path)
      return null
  }
}

/**
 * The stored value a missing field starts with on create: its default,
 * an empty counter/list/record, or undefined when it may stay absent.
 * Throws when a required field has no way to start.
 */
export function initialValue(field: FieldJSON, path: Path): unknown {
  if ("default" in field && field.default !== undefined) return toStored(field, field.default, path)
  if (field.optional) return undefined
  switch (field.kind) {
    case "counter":
      return new Counter(0)
    case "list":
      return []
    case "record":
      return {}
    case "map":
      return toStored(field, {}, path)
    default:
      throw new ValidationError("missing required field", path)
  }
}

/**
 * The stored value a missing field reads as: what create would have stored
 * for it (see initialValue), or undefined when it may stay absent or has no
 * way to start (a required string with no default: the document is invalid).
 */
function startOf(field: FieldJSON): unknown {
  try {
    return initialValue(field, [])
  } catch (error) {
    if (error instanceof ValidationError) return undefined
    throw error
  }
}

/** The app form a missing field reads as (see startOf). */
export function missingValue(field: FieldJSON): unknown {
  const start = startOf(field)
  return start === undefined ? undefined : toPlain(start)
}

/**
 * Check a stored value (from Automerge, local or from a peer) against a field.
 * A missing field is valid when create could have left it out (a default, a
 * kind that starts empty, optional): documents made without this definition
 * (the CLI, a relay, an older app) lack them, and read as if they had them.
 * With `fromOtherVersions` (a document as stored, which another version of
 * the type may have written), keys the definition does not declare and
 * string register values outside its allowed set are kept as they are: a
 * newer version may have added them (see schema/compatibility.ts).
 */
export function validateStored(field: FieldJSON, value: unknown, path: Path, options: { fromOtherVersions: boolean }): void {
  if (value === undefined) {
    // Throws "missing required field" at the first field inside that cannot start (a map's required string, say).
    if (!field.optional) initialValue(field, path)
    return
  }
  switch (field.kind) {
    case "register":
      switch (field.of) {
        case "string":
          if (!(value instanceof ImmutableString)) throw new ValidationError(`expected a string register, got ${describe(value)}`, path)
          if (field.values && !field.values.includes(value.val) && !options.fromOtherVersions)
            throw new ValidationError(`expected one of ${field.values.join(", ")}, got ${JSON.stringify(value.val)}`, path)
          return
        case "number":
          if (typeof value !== "number") throw new ValidationError(`expected a number, got ${describe(value)}`, path)
          return
        case "boolean":
          if (typeof value !== "boolean") throw new ValidationError(`expected a boolean, got ${describe(value)}`, path)
          return
        case "null":
          if (value !== null) throw new ValidationError(`expected null, got ${describe(value)}`, path)
          return
      }
      return
    case "counter":
      if (!(value instanceof Counter)) throw new ValidationError(`expected a counter, got ${describe(value)}`, path)
      return
    case "text":
      if (typeof value !== "string") throw new ValidationError(`expected text, got ${describe(value)}`, path)
      return
    case "map": {
      if (!isPlainObject(value)) throw new ValidationError(`expected a map, got ${describe(value)}`, path)
      for (const [key, sub] of Object.entries(field.fields)) validateStored(sub, value[key], [...path, key], options)
      if (!options.fromOtherVersions) {
        for (const key of Object.keys(value)) {
          if (!(key in field.fields)) throw new ValidationError(`unknown field ${JSON.stringify(key)}`, [...path, key])
        }
      }
      return
    }
    case "record":
      if (!isPlainObject(value)) throw new ValidationError(`expected a record, got ${describe(value)}`, path)
      for (const [key, sub] of Object.entries(value)) validateStored(field.of, sub, [...path, key], options)
      return
    case "list":
      if (!Array.isArray(value)) throw new ValidationError(`expected a list, got ${describe(value)}`, path)
      for (let i = 0; i < value.length; i++) validateStored(field.of, value[i], [...path, i], options)
      return
  }
}

/**
 * Map keys in a stable order. Automerge sorts keys when it builds a document
 * but appends keys that later changes add, so without sorting two peers with
 * the same heads would give differently ordered JSON.
 */
const keysOf = (value: Record<string, unknown>): string[] => Object.keys(value).sort()

/** Stored form → app form: registers and text become strings, counters numbers. Map keys are sorted. */
export function toPlain(value: unknown): unknown {
  if (value instanceof ImmutableString) return value.val
  if (value instanceof Counter) return value.value
  if (Array.isArray(value)) return value.map(toPlain)
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {}
    for (const key of keysOf(value)) out[key] = toPlain(value[key])
    return out
  }
  return value
}

/**
 * A stored value with every declared field it lacks, at any depth, filled in
 * with what create would have stored (see startOf): how a document made
 * without this definition reads. A new tree that shares what was there; the
 * document is not changed. Keys the definition does not declare (fields of a
 * newer definition) are kept, and values of the wrong kind are left as they
 * are (validateStored is what checks them).
 */
export function withDefaults(field: FieldJSON, value: unknown): unknown {
  if (value === undefined) return startOf(field)
  switch (field.kind) {
    case "map": {
      if (!isPlainObject(value)) return value
      const out: Record<string, unknown> = { ...value }
      for (const [key, sub] of Object.entries(field.fields)) {
        const filled = withDefaults(sub, value[key])
        if (filled !== undefined) out[key] = filled
      }
      return out
    }
    case "record": {
      if (!isPlainObject(value)) return value
      const out: Record<string, unknown> = {}
      for (const [key, sub] of Object.entries(value)) out[key] = withDefaults(field.of, sub)
      return out
    }
    case "list":
      return Array.isArray(value) ? value.map(item => withDefaults(field.of, item)) : value
    default:
      return value
  }
}

const TAGS = ["$text", "$counter", "$map"]

/** The `$` key of an object whose only key starts with `$`: tagged JSON reads such an object as a tag, never as a map. */
function tagOf(value: Record<string, unknown>): string | undefined {
  const keys = Object.keys(value)
  return keys.length === 1 && keys[0]!.startsWith("$") ? keys[0] : undefined
}

/** Refuse a tag tagged JSON does not know: stored as a map, a typo (`{"$txt": "…"}`) would pass for data. */
function assertKnownTag(tag: string, path: Path): void {
  if (!TAGS.includes(tag))
    throw new ValidationError(`unknown tag ${JSON.stringify(tag)}: tagged JSON knows "$text", "$counter" and "$map"`, path)
}

export type { TaggedKind } from "./kinds.js"

/** The kind of a value in stored form. */
export function kindOfStored(value: unknown): TaggedKind {
  if (value instanceof Counter) return "counter"
  if (typeof value === "string") return "text"
  if (Array.isArray(value)) return "list"
  if (isPlainObject(value)) return "map"
  return "register"
}

/** Stored form → tagged JSON, which keeps every kind without a schema. Map keys are sorted. */
export function toTagged(value: unknown): unknown {
  if (value instanceof ImmutableString) return value.val
  if (value instanceof Counter) return { $counter: value.value }
  if (typeof value === "string") return { $text: value }
  if (Array.isArray(value)) return value.map(toTagged)
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {}
    for (const key of keysOf(value)) out[key] = toTagged(value[key])
    // A map whose only key looks like a tag would read back as that tag (or be refused as an unknown one): wrap it.
    return tagOf(out) === undefined ? out : { $map: out }
  }
  return value
}

/** Tagged JSON → stored form, with no schema: a string is a register. */
export function fromTagged(value: unknown, path: Path): unknown {
  if (value instanceof ImmutableString || value instanceof Counter) return value
  if (typeof value === "string") return new ImmutableString(value)
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new ValidationError(`expected a finite number, got ${String(value)}`, path)
    return value
  }
  if (typeof value === "boolean" || value === null) return value
  if (Array.isArray(value)) return value.map((item, i) => fromTagged(item, [...path, i]))
  if (isPlainObject(value)) {
    const tag = tagOf(value)
    if (tag === undefined) return fromTaggedMap(value, path)
    assertKnownTag(tag, path)
    if (tag === "$text") {
      if (typeof value.$text !== "string") throw new ValidationError(`"$text" must hold a string`, path)
      return value.$text
    }
    if (tag === "$counter") {
      if (typeof value.$counter !== "number" || !Number.isFinite(value.$counter))
        throw new ValidationError(`"$counter" must hold a number`, path)
      return new Counter(value.$counter)
    }
    return fromTaggedMap(value.$map, path)
  }
  throw new ValidationError(`cannot store ${typeof value}`, path)
}

/** Tagged JSON of a document's whole data → stored form. The data is a map, so a tag at the top (`{"$text": "…"}`) is refused. */
export function fromTaggedData(value: unknown): Record<string, unknown> {
  const stored = fromTagged(value, [])
  if (!isPlainObject(stored)) throw new ValidationError(`document data must be a map (an object), got ${describe(stored)}`)
  return stored
}

function fromTaggedMap(value: unknown, path: Path): Record<string, unknown> {
  if (!isPlainObject(value)) throw new ValidationError(`"$map" must hold an object`, path)
  const out: Record<string, unknown> = {}
  for (const [key, sub] of Object.entries(value)) out[key] = fromTagged(sub, [...path, key])
  return out
}

/**
 * Tagged JSON → app form for a field, where a definition is known: tags are
 * accepted and checked against the declared kind, plain values are taken as
 * that kind.
 */
export function untagForField(field: FieldJSON, value: unknown, path: Path): unknown {
  if (isPlainObject(value)) {
    const tag = tagOf(value)
    if (tag !== undefined) assertKnownTag(tag, path)
    if (tag === "$text") {
      if (field.kind !== "text") throw new ValidationError(`"$text" given for a ${field.kind} field`, path)
      return value.$text
    }
    if (tag === "$counter") {
      if (field.kind !== "counter") throw new ValidationError(`"$counter" given for a ${field.kind} field`, path)
      return value.$counter
    }
    const inner = tag === "$map" ? value.$map : value
    if (field.kind === "map" && isPlainObject(inner)) {
      const out: Record<string, unknown> = {}
      for (const [key, sub] of Object.entries(inner))
        out[key] = key in field.fields ? untagForField(field.fields[key]!, sub, [...path, key]) : sub
      return out
    }
    if (field.kind === "record" && isPlainObject(inner)) {
      const out: Record<string, unknown> = {}
      for (const [key, sub] of Object.entries(inner)) out[key] = untagForField(field.of, sub, [...path, key])
      return out
    }
  }
  if (Array.isArray(value) && field.kind === "list") return value.map((item, i) => untagForField(field.of, item, [...path, i]))
  return value
}

export { isPlainObject }
