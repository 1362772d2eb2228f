import { TypeDefinitionError, ValidationError } from "../errors.js"
import { fieldFromJSON, type FieldJSON, type Fields, type InferCreate, type InferFields } from "./fields.js"
import { chainOps, checkLensStep, invertOps, lensBackwardFields, type LensOp, type LensStep } from "./lenses.js"
import { toStored } from "./values.js"

/** A type name starts with a lowercase letter; then lowercase letters, digits, `.`, `_` or `-`; at most 64 characters. */
const TYPE_NAME = /^[a-z][a-z0-9._-]{0,63}$/

/** Throws a TypeDefinitionError unless `name` is a valid type name. */
export function assertTypeName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !TYPE_NAME.test(name)) {
    throw new TypeDefinitionError(
      `invalid type name ${JSON.stringify(name)}: a type name starts with a lowercase letter and has lowercase letters, digits, ".", "_" or "-", at most 64 characters`,
    )
  }
}

/** True when `name` is a valid type name. */
export function isTypeName(name: unknown): name is string {
  return typeof name === "string" && TYPE_NAME.test(name)
}

/** The JSON form of a type definition, readable by peers that lack the app's code. */
export interface TypeDefinitionJSON {
  name: string
  version: number
  fields: Record<string, FieldJSON>
  /** How earlier versions read as this one (see schema/lenses.ts); absent when there are none. */
  lenses?: LensStep[]
}

/**
 * A document type: its name, its schema version and its fields. Made once
 * with `defineType`; the app's TypeScript types come from it
 * (`DataOf<typeof Task>`), and the database validates every change with it.
 */
export class TypeDefinition<F extends Fields = Fields> {
  declare readonly _data: InferFields<F>
  declare readonly _create: InferCreate<F>

  constructor(
    readonly name: string,
    readonly version: number,
    readonly fields: F,
    readonly lenses: readonly LensStep[] = [],
    /** Newer versions of this type learnt from peers, whose lenses reach back to this version (see `withNewer`). */
    readonly newer: readonly TypeDefinition[] = [],
    /** The app's own definition this one was made from by `withNewer` (itself, for a definition made by `defineType`). */
    origin?: TypeDefinition,
  ) {
    this.origin = origin ?? this
  }

  readonly origin: TypeDefinition

  /** The plain JSON form; `typeFromJSON` turns it back into a definition. */
  toJSON(): TypeDefinitionJSON {
    const fields: Record<string, FieldJSON> = {}
    for (const [key, field] of Object.entries(this.fields)) fields[key] = field.spec
    const json: TypeDefinitionJSON = { name: this.name, version: this.version, fields }
    if (this.lenses.length > 0) json.lenses = structuredClone([...this.lenses])
    return json
  }

  /**
   * The lens operations that read a document created at `version` as this
   * version: none for this version, or for an older one no declared chain
   * reaches (its changes were compatible: read as it is, with defaults).
   * A newer version's documents read as they are too; reading them through
   * the newer lens needs the newer definition.
   */
  lensFrom(version: number): LensOp[] {
    if (version === this.version) return []
    if (version < this.version) return chainOps(this.lenses, version, this.version) ?? []
    const newer = this.newer.find(candidate => candidate.version === version)
    return newer ? invertOps(chainOps(newer.lenses, this.version, version)!) : []
  }

  /** The newer definition of this type known for documents created at `version`, if any. */
  newerAt(version: number): TypeDefinition | undefined {
    return this.newer.find(candidate => candidate.version === version)
  }

  /**
   * This definition, also knowing a newer version of the type (from a peer
   * that runs it), so documents created at that version read and write in
   * this version's shape through the newer one's lens, backwards. Throws
   * TypeDefinitionError unless `newer` is this type at a higher version
   * with a lens chain reaching back to this one, or conflicts with a newer
   * definition of the same version already known.
   */
  withNewer(newer: TypeDefinition): TypeDefinition<F> {
    if (newer.name !== this.name || newer.version <= this.version)
      throw new TypeDefinitionError(`${newer.name} version ${newer.version} is not a newer version of ${this.name} ${this.version}`)
    if (!chainOps(newer.lenses, this.version, newer.version))
      throw new TypeDefinitionError(`${newer.name} version ${newer.version} declares no lens chain back to version ${this.version}`)
    const known = this.newerAt(newer.version)
    if (known) {
      if (JSON.stringify(known.toJSON()) === JSON.stringify(newer.toJSON())) return this
      throw new TypeDefinitionError(`two different definitions of ${this.name} version ${newer.version}: the one known here is kept`)
    }
    return new TypeDefinition(this.name, this.version, this.fields, this.lenses, [...this.newer, newer], this.origin)
  }
}

/**
 * The definition to read and write with: the registered one when it is the
 * app's `given` definition grown with newer versions learnt from peers
 * (`withNewer`), else `given` (a definition the caller passes wins), else
 * the registered one.
 */
export function definitionToUse(given: TypeDefinition | undefined, registered: TypeDefinition | undefined): TypeDefinition | undefined {
  if (!given) return registered
  return registered && registered !== given && registered.origin === given.origin ? registered : given
}

const dataFields = new WeakMap<TypeDefinition, FieldJSON>()

/** A document's whole data as one field: a map of the definition's fields (made once per definition). */
export function dataFieldOf(definition: TypeDefinition<any>): FieldJSON {
  let field = dataFields.get(definition)
  if (!field) dataFields.set(definition, (field = { kind: "map", fields: definition.toJSON().fields }))
  return field
}

const storedFields = new WeakMap<TypeDefinition, Map<number, FieldJSON>>()

/**
 * The data field of a document created at `version`, as this definition
 * sees it: its own fields when no lens lies between, a newer version's own
 * when it is known, else the older shape derived back through the lens (what such a document is validated and
 * written against). Made once per definition and version.
 */
export function storedDataFieldOf(definition: TypeDefinition<any>, version: number): FieldJSON {
  const newer = version > definition.version ? definition.newerAt(version) : undefined
  if (newer) return dataFieldOf(newer)
  const ops = definition.lensFrom(version)
  if (ops.length === 0) return dataFieldOf(definition)
  let byVersion = storedFields.get(definition)
  if (!byVersion) storedFields.set(definition, (byVersion = new Map()))
  let field = byVersion.get(version)
  if (!field) byVersion.set(version, (field = { kind: "map", fields: lensBackwardFields(ops, definition.toJSON().fields) }))
  return field
}

/** The data type of documents of a definition. */
export type DataOf<D> = D extends TypeDefinition<infer F> ? InferFields<F> : never
/** What `create` accepts for a definition. */
export type CreateDataOf<D> = D extends TypeDefinition<infer F> ? InferCreate<F> : never

/**
 * Define a document type.
 *
 * @example
 * const Task = defineType("task", { version: 1, fields: { title: f.string(), done: f.boolean().default(false) } })
 */
export function defineType<F extends Fields>(
  name: string,
  options: { version?: number; fields: F; lenses?: readonly LensStep[] },
): TypeDefinition<F> {
  assertTypeName(name)
  if (name.startsWith("cairn."))
    throw new TypeDefinitionError(
      `type name ${JSON.stringify(name)} is reserved: names starting with "cairn." are Cairn's own (definitions stored as data)`,
    )
  const version = options.version ?? 1
  if (!Number.isInteger(version) || version < 1) {
    throw new TypeDefinitionError(`type ${name}: version must be a positive integer, got ${JSON.stringify(version)}`)
  }
  for (const [key, field] of Object.entries(options.fields)) {
    assertFieldName(name, key)
    checkDefaults(name, field.spec, [key])
  }
  const lenses = (options.lenses ?? []).map((step, i) => checkLensStep(step, `type ${name}: lenses[${i}]`))
  for (const step of lenses) {
    if (step.to > version)
      throw new TypeDefinitionError(`type ${name}: a lens step goes to version ${step.to}, above the type's ${version}`)
  }
  return new TypeDefinition(name, version, options.fields, lenses)
}

/** Rebuild a definition from its JSON form; throws TypeDefinitionError naming what is wrong. */
export function typeFromJSON(json: unknown): TypeDefinition {
  if (typeof json !== "object" || json === null) throw new TypeDefinitionError("a type definition must be an object")
  const o = json as Record<string, unknown>
  assertTypeName(o.name)
  if (typeof o.fields !== "object" || o.fields === null || Array.isArray(o.fields)) {
    throw new TypeDefinitionError(`type ${o.name}: "fields" must be an object`)
  }
  const fields: Fields = {}
  try {
    for (const [key, value] of Object.entries(o.fields)) {
      assertFieldName(o.name, key)
      fields[key] = fieldFromJSON(value, `${o.name}.${key}`)
    }
  } catch (error) {
    if (error instanceof TypeDefinitionError) throw error
    throw new TypeDefinitionError(`type ${o.name}: ${(error as Error).message}`)
  }
  if (o.lenses !== undefined && !Array.isArray(o.lenses)) throw new TypeDefinitionError(`type ${o.name}: "lenses" must be a list`)
  return defineType(o.name, { version: (o.version ?? 1) as number, fields, lenses: o.lenses as LensStep[] | undefined })
}

/** A default that does not fit its field would fail every create that leaves the field out: refuse it with the definition. */
function checkDefaults(typeName: string, field: FieldJSON, path: string[]): void {
  if ("default" in field) {
    try {
      toStored(field, field.default, [])
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error
      throw new TypeDefinitionError(`type ${typeName}: field ${path.join(".")} has a default that does not fit it (${error.message})`)
    }
  }
  if (field.kind === "map") for (const [key, sub] of Object.entries(field.fields)) checkDefaults(typeName, sub, [...path, key])
}

function assertFieldName(typeName: string, key: string): void {
  if (key.length === 0 || key.startsWith("$")) {
    throw new TypeDefinitionError(`type ${typeName}: field name ${JSON.stringify(key)} is not allowed (empty, or starts with "$")`)
  }
}
