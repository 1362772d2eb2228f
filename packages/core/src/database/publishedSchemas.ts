/**
 * Publishing this peer's definitions as schema documents, reading the ones
 * synced here, and learning a newer version's lens from them (see
 * schema/schemaDocuments.ts for the layout and why).
 */
import { TypeDefinitionError } from "../errors.js"
import {
  newestOf,
  type PublishedDefinition,
  readPublished,
  schemaDocumentData,
  schemaDocumentType,
  schemaTypeOf,
} from "../schema/schemaDocuments.js"
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
    const outcome = await publishDefinition(db, registered.origin)
    if (outcome.conflict) throw new TypeDefinitionError(outcome.conflict)
    if (outcome.made) made.push(outcome.id)
  }
  return made
}

/** What publishing one definition did: made a document, found the same one stored (`id` either way), or found a conflict (why). */
export type PublishOutcome = { id: string; made: boolean; conflict?: undefined } | { conflict: string; made?: undefined }

/** Publish `own` unless the same definition is stored; never beside a different one of its name and version. */
export async function publishDefinition(db: Database, own: TypeDefinition): Promise<PublishOutcome> {
  const text = JSON.stringify(own.toJSON())
  const stored = (await publishedDefinitions(db, own.name)).find(entry => entry.version === own.version)
  if (stored?.definition && JSON.stringify(stored.definition.toJSON()) === text) return { id: stored.ids![0]!, made: false }
  if (stored)
    return { conflict: `another definition of ${own.name} version ${own.version} is published: a changed definition needs a new version` }
  return { id: (await db.create(schemaDocumentType(own.name), schemaDocumentData(own))).id, made: true }
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

/** The newest published definition of `type` that no conflict clouds, if any: what a peer without app code for it reads and creates with. */
export async function newestPublished(db: Database, type: string): Promise<TypeDefinition | undefined> {
  return newestOf(await publishedDefinitions(db, type))
}
