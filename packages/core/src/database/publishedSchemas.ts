/**
 * Publishing this peer's definitions as schema documents, reading the ones
 * synced here, and learning a newer version's lens from them (see
 * schema/schemaDocuments.ts for the layout and why).
 */
import { TypeDefinitionError } from "../errors.js"
import { type PublishedDefinition, readPublished, schemaDocumentData, schemaDocumentType, schemaTypeOf } from "../schema/schemaDocuments.js"
import type { TypeDefinition } from "../schema/TypeDefinition.js"
import type { Database } from "./Database.js"

/** The definitions of `type` stored here as schema documents, by version, with any conflict between them. */
export async function publishedDefinitions(db: Database, type: string): Promise<PublishedDefinition[]> {
  const docs = await db.query(schemaTypeOf(type))
  return readPublished(
    type,
    docs.map(doc => ({ id: doc.id, data: doc.data })),
  )
}

/**
 * Store each of this peer's own definitions as a schema document, unless the
 * same definition is stored already. Throws TypeDefinitionError naming the
 * type and version when a different definition of them is stored: a
 * conflict for a person to settle, never overwritten. Returns the new ids.
 */
export async function publishDefinitions(db: Database): Promise<string[]> {
  const made: string[] = []
  for (const registered of db.definitions()) {
    const own: TypeDefinition = registered.origin
    const text = JSON.stringify(own.toJSON())
    const stored = (await publishedDefinitions(db, own.name)).find(entry => entry.version === own.version)
    if (stored?.definition && JSON.stringify(stored.definition.toJSON()) === text) continue
    if (stored)
      throw new TypeDefinitionError(
        `another definition of ${own.name} version ${own.version} is published: a changed definition needs a new version`,
      )
    made.push((await db.create(schemaDocumentType(own.name), schemaDocumentData(own))).id)
  }
  return made
}

/** Learn every newer version of `type` published here whose lens reaches this peer's version (conflicting versions are skipped: `publishedDefinitions` reports them). */
export async function learnPublished(db: Database, type: string): Promise<void> {
  for (const entry of await publishedDefinitions(db, type)) {
    const own = db.definition(type)
    if (!entry.definition || !own || entry.version <= own.version || entry.definition.lensFrom(own.origin.version).length === 0) continue
    await db.learnNewer(entry.definition).catch(error => {
      if (!(error instanceof TypeDefinitionError)) throw error
    })
  }
}
