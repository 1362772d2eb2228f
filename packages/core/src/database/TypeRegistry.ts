/**
 * The type definitions a database reads and checks documents with: the app's
 * own, and newer versions of them learnt from peers (whose lens reaches back
 * to the app's version). Every other part of the database asks here which
 * definition a type has, so a definition learnt at connect or from a synced
 * schema document is used everywhere at once.
 */
import type { Catalog } from "../catalog/Catalog.js"
import { QuarantinedError } from "../errors.js"
import { definitionToUse, TypeDefinition } from "../schema/TypeDefinition.js"
import type { TypeRef } from "./Transaction.js"

export class TypeRegistry {
  /** By type name; shared with the document store, which reads it as documents arrive. */
  readonly byName = new Map<string, TypeDefinition>()

  constructor(
    types: readonly TypeDefinition<any>[],
    private readonly catalog: Catalog,
    /** Check a quarantined document again (Database.releaseQuarantined). */
    private readonly release: (id: string) => Promise<void>,
    /** A newer version was learnt: told before its quarantined documents are released, so a listener reads them with it. */
    private readonly learnt: (definition: TypeDefinition) => void = () => {},
  ) {
    for (const definition of types) this.byName.set(definition.name, definition)
  }

  get(type: string): TypeDefinition | undefined {
    return this.byName.get(type)
  }

  has(type: string): boolean {
    return this.byName.has(type)
  }

  all(): TypeDefinition[] {
    return [...this.byName.values()]
  }

  /** Registering a type again (an app on the local socket says hello with its types) keeps the newer versions learnt for it that still reach it. */
  register(definition: TypeDefinition<any>): void {
    let grown: TypeDefinition = definition
    for (const newer of this.byName.get(definition.name)?.newer ?? []) {
      try {
        grown = grown.withNewer(newer)
      } catch {
        // Not newer than this definition, or no lens back to it: it does not apply any more.
      }
    }
    this.byName.set(definition.name, grown)
  }

  /** The definition documents of `type` are read with: the one the caller passed, else the one registered. */
  for(type: TypeRef | undefined, name: string): TypeDefinition | undefined {
    return definitionToUse(type instanceof TypeDefinition ? type : undefined, this.byName.get(name))
  }

  /** See Database.learnNewer. */
  async learnNewer(newer: TypeDefinition): Promise<boolean> {
    const own = this.byName.get(newer.name)
    if (!own || newer.version <= own.version) return false
    const grown = own.withNewer(newer)
    if (grown === own) return false
    this.byName.set(newer.name, grown)
    this.learnt(newer)
    for (const id of [...this.catalog.idsOfType(newer.name)]) {
      if (!this.catalog.get(id)?.quarantined) continue
      // Still refused (for another reason): it stays quarantined, with that reason.
      await this.release(id).catch(error => {
        if (!(error instanceof QuarantinedError)) throw error
      })
    }
    return true
  }
}
