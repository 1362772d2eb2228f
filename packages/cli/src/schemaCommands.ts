/**
 * `cairn schema list` and `cairn schema publish`: the type definitions stored
 * as documents (schema/schemaDocuments.ts in core), so a relay or a CLI with
 * no app code knows each type's fields and versions, and `cairn create`
 * applies defaults and kinds from them.
 */
import { describedType, type PublishedDefinition } from "@cairn/core"
import type { Command } from "./commands.js"

function describe(entry: PublishedDefinition) {
  return {
    type: entry.type,
    version: entry.version,
    ...(entry.definition ? { fields: entry.definition.toJSON().fields, lenses: entry.definition.toJSON().lenses ?? [] } : {}),
    ...(entry.conflict ? { conflict: entry.conflict } : {}),
    ...(entry.invalid.length > 0 ? { invalid: entry.invalid } : {}),
  }
}

export const schemaCommands: Record<string, Command> = {
  /** Every published definition here (or of one type), by type and version. */
  async "schema-list"(peer, { args }) {
    const types = args[0]
      ? [args[0]]
      : peer.db
          .types()
          .map(({ type }) => describedType(type))
          .filter((type): type is string => type !== undefined)
    const out = []
    for (const type of types) out.push(...(await peer.db.publishedDefinitions(type)).map(describe))
    return out
  },

  /** Publish this peer's definitions (types.json) as documents; returns the ids made. */
  async "schema-publish"(peer) {
    return peer.db.publishDefinitions()
  },
}
