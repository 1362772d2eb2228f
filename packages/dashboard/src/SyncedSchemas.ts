/**
 * The definitions the dashboard shows and creates with: the app's own where
 * this peer has one, else the definitions synced here as schema documents,
 * so a relay with no app code still shows a type's fields and offers a typed
 * form. The schema documents are read again only when their catalog entries
 * changed: the overview is asked for on every page load and many events.
 */
import { describedType, isVisible, newestOf, schemaTypeOf, type Database, type PublishedDefinition, type TypeDefinition } from "@cairn/core"

/** Where a shown definition comes from. */
export type SchemaSource = "app" | "synced"

export class SyncedSchemas {
  readonly #cache = new Map<string, { key: string; published: PublishedDefinition[] }>()

  constructor(private readonly db: Database) {}

  /** The definition of `type` to show and create with (the newest synced one when the app has none), and where it comes from. */
  async of(type: string): Promise<{ definition: TypeDefinition; source: SchemaSource } | undefined> {
    const own = this.db.definition(type)
    if (own) return { definition: own, source: "app" }
    const synced = newestOf(await this.#published(type))
    return synced && { definition: synced, source: "synced" }
  }

  /** The definition a document created at `version` is read with: the app's own, else the synced definition of that very version. */
  async at(type: string, version: number): Promise<TypeDefinition | undefined> {
    return this.db.definition(type) ?? (await this.#published(type)).find(entry => entry.version === version)?.definition
  }

  /** The types that have schema documents here. */
  described(): string[] {
    // The catalog's type names, not db.types(): that counts every type's documents, and the overview counts them already.
    return this.db.catalog
      .types()
      .map(type => describedType(type))
      .filter((type): type is string => type !== undefined)
  }

  async #published(type: string): Promise<PublishedDefinition[]> {
    const { catalog } = this.db
    const ids = [...catalog.idsOfType(schemaTypeOf(type))].filter(id => isVisible(catalog.get(id))).sort()
    if (ids.length === 0) return []
    const key = ids.map(id => `${id}:${catalog.get(id)!.heads.join(",")}`).join(";")
    const cached = this.#cache.get(type)
    if (cached?.key === key) return cached.published
    const published = await this.db.publishedDefinitions(type)
    this.#cache.set(type, { key, published })
    return published
  }
}
