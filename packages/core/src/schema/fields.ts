/**
 * Field kinds: what a type definition declares about each value in a
 * document, and so how it is stored in Automerge and how it merges.
 *
 * A field is an immutable description. Modifiers (`optional()`, `default()`)
 * return a new field, so one field can be reused in several definitions.
 * The TypeScript type parameters carry the value type, so a definition gives
 * the app its document type with no second declaration.
 */

import { TypeDefinitionError } from "../errors.js"

export type ScalarName = "string" | "number" | "boolean" | "null"

/** The JSON form of a field: what a peer without the app's code reads. */
export type FieldJSON =
  | { kind: "register"; of: ScalarName; optional?: true; default?: unknown; values?: readonly string[] }
  | { kind: "counter"; optional?: true; default?: number }
  | { kind: "text"; optional?: true; default?: string }
  | { kind: "map"; fields: Record<string, FieldJSON>; optional?: true }
  | { kind: "record"; of: FieldJSON; optional?: true }
  | { kind: "list"; of: FieldJSON; optional?: true }

export type FieldKind = FieldJSON["kind"]

/**
 * A field of a type definition.
 *
 * `T` is the value as the app reads it; `Opt` whether the key may be absent;
 * `Def` whether it has a default (so it may be omitted on create).
 */
export class Field<T = unknown, Opt extends boolean = boolean, Def extends boolean = boolean> {
  declare readonly _value: T
  declare readonly _optional: Opt
  /** True where create may leave the field out: a default, or a kind that starts empty (counter, list, record, a map of such fields). */
  declare readonly _hasDefault: Def

  constructor(readonly spec: FieldJSON) {}

  get kind(): FieldKind {
    return this.spec.kind
  }
  get isOptional(): boolean {
    return this.spec.optional === true
  }
  get hasDefault(): boolean {
    return "default" in this.spec
  }

  /** The key may be absent from the document. */
  optional(): Field<T, true, Def> {
    return new Field({ ...this.spec, optional: true }) as Field<T, true, Def>
  }

  /** Value used on create when the app does not give one, in the app's form (a counter's default is a number, text's a string). */
  default(value: DefaultOf<T>): Field<T, Opt, true> {
    if (this.spec.kind === "map" || this.spec.kind === "record" || this.spec.kind === "list") {
      throw new TypeDefinitionError(`a ${this.spec.kind} field takes no default; it starts empty`)
    }
    return new Field({ ...this.spec, default: value } as FieldJSON) as Field<T, Opt, true>
  }

  toJSON(): FieldJSON {
    return this.spec
  }
}

type DefaultOf<T> = T extends CounterValue ? number : T extends TextValue ? string : T

export type Fields = Record<string, Field<any, boolean, boolean>>

/** Marker types so the draft knows a counter or text from a plain number or string. */
export interface CounterValue {
  readonly __kind: "counter"
}
export interface TextValue {
  readonly __kind: "text"
}

type ReadOf<F> = F extends Field<infer T, any, any> ? ReadValue<T> : never
type ReadValue<T> = T extends CounterValue
  ? number
  : T extends TextValue
    ? string
    : T extends readonly (infer I)[]
      ? ReadValue<I>[]
      : T extends Record<string, any>
        ? { [K in keyof T]: ReadValue<T[K]> }
        : T

type OptionalKeys<F extends Fields> = { [K in keyof F]: F[K]["_optional"] extends true ? K : never }[keyof F]
type RequiredKeys<F extends Fields> = Exclude<keyof F, OptionalKeys<F>>
type CreateOptionalKeys<F extends Fields> = {
  [K in keyof F]: F[K]["_optional"] extends true ? K : F[K]["_hasDefault"] extends true ? K : never
}[keyof F]

/** True when create may leave out every field (so a map of them can start empty). */
type StartsEmpty<F extends Fields> = [Exclude<keyof F, CreateOptionalKeys<F>>] extends [never] ? true : false

type Simplify<T> = { [K in keyof T]: T[K] } & {}

/** The document data as the app reads it, inferred from fields. */
export type InferFields<F extends Fields> = Simplify<{ [K in RequiredKeys<F>]: ReadOf<F[K]> } & { [K in OptionalKeys<F>]?: ReadOf<F[K]> }>

/** What `create` accepts: fields with a default, optional fields, lists and counters may be left out. */
export type InferCreate<F extends Fields> = Simplify<
  { [K in Exclude<keyof F, CreateOptionalKeys<F>>]: CreateOf<F[K]> } & {
    [K in CreateOptionalKeys<F>]?: CreateOf<F[K]>
  }
>
type CreateOf<F> = F extends Field<infer T, any, any> ? CreateValue<T> : never
type CreateValue<T> = ReadValue<T>

/** The value type carried by a field. */
export type ValueOf<F> = F extends Field<infer T, any, any> ? T : never

/** The stored value types of a set of fields (what drafts are typed from). */
export type FieldsValue<F extends Fields> = MapValue<F>
type MapValue<F extends Fields> = Simplify<{ [K in RequiredKeys<F>]: ValueOf<F[K]> } & { [K in OptionalKeys<F>]?: ValueOf<F[K]> }>

/** The field builders. `f.string()`, `f.counter()`, `f.map({...})` and so on. */
export const f = {
  /**
   * A string register: last writer wins, concurrent values kept as conflicts. `values` restricts it to a set.
   * (`NoInfer`: inside a definition the contextual type `Field<any>` would otherwise make the value type `any`.)
   */
  string<const V extends string = string>(options: { values?: readonly V[] } = {}): Field<NoInfer<V>, false, false> {
    return new Field(options.values ? { kind: "register", of: "string", values: [...options.values] } : { kind: "register", of: "string" })
  },
  /** A number register. */
  number(): Field<number, false, false> {
    return new Field({ kind: "register", of: "number" })
  },
  /** A boolean register. */
  boolean(): Field<boolean, false, false> {
    return new Field({ kind: "register", of: "boolean" })
  },
  /** A register that holds only null (useful in lists of mixed records, or as a placeholder). */
  null(): Field<null, false, false> {
    return new Field({ kind: "register", of: "null" })
  },
  /** A counter: concurrent increments add up. Starts at 0 unless given a default. */
  counter(): Field<CounterValue, false, true> {
    return new Field({ kind: "counter" })
  },
  /** Collaborative text: concurrent edits merge character by character. */
  text(): Field<TextValue, false, false> {
    return new Field({ kind: "text" })
  },
  /** A nested map with declared fields; keys merge independently. Create may leave it out when every field it has may be left out. */
  map<F extends Fields>(fields: F): Field<MapValue<F>, false, StartsEmpty<F>> {
    const spec: Record<string, FieldJSON> = {}
    for (const [key, field] of Object.entries(fields)) spec[key] = field.spec
    return new Field({ kind: "map", fields: spec })
  },
  /** A map with any string keys, every value of one field kind. */
  record<V extends Field<any, any, any>>(of: V): Field<Record<string, ValueOf<V>>, false, true> {
    return new Field({ kind: "record", of: of.spec })
  },
  /** A list; concurrent inserts keep both, by position. */
  list<V extends Field<any, any, any>>(of: V): Field<ValueOf<V>[], false, true> {
    return new Field({ kind: "list", of: of.spec })
  },
}

/** Rebuild a field from its JSON form (checked; throws TypeError naming the problem). */
export function fieldFromJSON(json: unknown, where = "field"): Field {
  return new Field(checkFieldJSON(json, where))
}

function checkFieldJSON(json: unknown, where: string): FieldJSON {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(`${where}: expected an object describing a field`)
  }
  const o = json as Record<string, unknown>
  const optional = o.optional === true ? { optional: true as const } : {}
  switch (o.kind) {
    case "register": {
      if (o.of !== "string" && o.of !== "number" && o.of !== "boolean" && o.of !== "null") {
        throw new TypeError(`${where}: a register's "of" must be string, number, boolean or null`)
      }
      if ("values" in o && (o.of !== "string" || !Array.isArray(o.values) || !o.values.every(v => typeof v === "string"))) {
        throw new TypeError(`${where}: "values" must be a list of strings, on a string register only`)
      }
      const values = "values" in o ? { values: o.values as string[] } : {}
      const def = "default" in o ? { default: o.default } : {}
      return { kind: "register", of: o.of, ...values, ...def, ...optional }
    }
    case "counter":
      if ("default" in o && typeof o.default !== "number") throw new TypeError(`${where}: a counter's default must be a number`)
      return { kind: "counter", ...("default" in o ? { default: o.default as number } : {}), ...optional }
    case "text":
      if ("default" in o && typeof o.default !== "string") throw new TypeError(`${where}: a text's default must be a string`)
      return { kind: "text", ...("default" in o ? { default: o.default as string } : {}), ...optional }
    case "map": {
      if (typeof o.fields !== "object" || o.fields === null || Array.isArray(o.fields))
        throw new TypeError(`${where}: a map needs "fields" (an object)`)
      const fields: Record<string, FieldJSON> = {}
      for (const [key, value] of Object.entries(o.fields)) fields[key] = checkFieldJSON(value, `${where}.${key}`)
      return { kind: "map", fields, ...optional }
    }
    case "record":
      return { kind: "record", of: checkFieldJSON(o.of, `${where}.*`), ...optional }
    case "list":
      return { kind: "list", of: checkFieldJSON(o.of, `${where}[]`), ...optional }
    default:
      throw new TypeError(`${where}: unknown field kind ${JSON.stringify(o.kind)}`)
  }
}
