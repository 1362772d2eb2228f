/**
 * Type definitions stored and synced as documents, so a peer with no app
 * code (a relay, the CLI) knows a type's fields and versions, and an older
 * app learns a newer version's lens through a relay, not only from a peer
 * it meets.
 *
 * A definition of type `task` is a document of the reserved type
 * `cairn.schema.task` (`defineType` refuses names starting with `cairn.`).
 * Replication selects it exactly as it selects `task` (see `selects` in
 * replication/protocol.ts): a peer that may not read `task` never learns its
 * definition, and only a peer that may write `task` may publish one.
 *
 * One document per publishing machine and version, with a random id: two
 * peers publishing the same definition at once make two documents with the
 * same content, which read as one. A shared id made from name and version
 * would not do: two machines each making "the" first change of one
 * Automerge document conflict in every envelope key. Two different
 * definitions under one name and version are a conflict, reported by
 * `readPublished`, never one silently replacing the other.
 */
import { f } from "./fields.js"
import { TypeDefinition, typeFromJSON } from "./TypeDefinition.js"

export const SCHEMA_TYPE_PREFIX = "cairn.schema."

/** The reserved type of the documents that hold definitions of `type`. */
export function schemaTypeOf(type: string): string {
  return `${SCHEMA_TYPE_PREFIX}${type}`
}

/** The type a schema document's type describes (`cairn.schema.task` → `task`), or undefined for any other type. */
export function describedType(type: string): string | undefined {
  return type.startsWith(SCHEMA_TYPE_PREFIX) ? type.slice(SCHEMA_TYPE_PREFIX.length) : undefined
}

const schemaFields = { name: f.string(), version: f.number(), definition: f.string() }

/** The definition of schema documents of `type` (made here, not by `defineType`, which refuses the reserved prefix). */
export function schemaDocumentType(type: string): TypeDefinition<typeof schemaFields> {
  return new TypeDefinition(schemaTypeOf(type), 1, schemaFields)
}

/** What a schema document holds, for `definition` (its JSON as a string: a schema document is written once). */
export function schemaDocumentData(definition: TypeDefinition): { name: string; version: number; definition: string } {
  return { name: definition.name, version: definition.version, definition: JSON.stringify(definition.toJSON()) }
}

/** The published definitions of one type and version: the definition, or the conflict between different ones. */
export interface PublishedDefinition {
  type: string
  version: number
  definition?: TypeDefinition
  /** With `definition`: the documents holding it (one per machine that published it). */
  ids?: string[]
  /** Set when documents disagree: each different definition's JSON, and the ids of the documents holding it. */
  conflict?: { definition: string; ids: string[] }[]
  /** Documents that are not a valid definition of their type, with why. */
  invalid: { id: string; reason: string }[]
}

/** The newest of `published` that no conflict clouds: what a peer without app code for the type reads and creates with. */
export function newestOf(published: readonly PublishedDefinition[]): TypeDefinition | undefined {
  return published.filter(entry => entry.definition).at(-1)?.definition
}

/** Group schema documents (`docs`: id and data, all of one described `type`) by version; identical content reads as one. */
export function readPublished(type: string, docs: readonly { id: string; data: Record<string, unknown> }[]): PublishedDefinition[] {
  const byVersion = new Map<number, { texts: Map<string, string[]>; invalid: { id: string; reason: string }[] }>()
  const invalidOf: { id: string; reason: string }[] = []
  for (const { id, data } of docs) {
    let definition: TypeDefinition
    try {
      definition = typeFromJSON(JSON.parse(String(data.definition)))
    } catch (error) {
      invalidOf.push({ id, reason: (error as Error).message })
      continue
    }
    if (definition.name !== type) {
      invalidOf.push({ id, reason: `it defines ${definition.name}, not ${type}` })
      continue
    }
    const text = JSON.stringify(definition.toJSON())
    let group = byVersion.get(definition.version)
    if (!group) byVersion.set(definition.version, (group = { texts: new Map(), invalid: [] }))
    group.texts.set(text, [...(group.texts.get(text) ?? []), id])
  }
  const out: PublishedDefinition[] = [...byVersion.entries()]
    .sort(([a], [b]) => a - b)
    .map(([version, group]) => {
      const texts = [...group.texts.entries()]
      if (texts.length === 1) {
        const [text, ids] = texts[0]!
        return { type, version, definition: typeFromJSON(JSON.parse(text)), ids: ids.sort(), invalid: [] }
      }
      return { type, version, conflict: texts.map(([definition, ids]) => ({ definition, ids: ids.sort() })), invalid: [] }
    })
  if (invalidOf.length > 0) out.push({ type, version: 0, invalid: invalidOf })
  return out
}
