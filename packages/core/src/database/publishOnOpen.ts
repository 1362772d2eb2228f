/**
 * Publishing a peer's definitions when it opens, so a relay, the CLI and the
 * dashboard learn them from what is synced without anyone running
 * `cairn schema publish`.
 *
 * Deciding "the same definition is published already" means reading the
 * schema documents of each type, a document load per type at every open.
 * The ledger (kept in storage beside the documents) remembers, per type and
 * version, the definition this storage last published or found published
 * and the document holding it: when the app's definition is the same text
 * and that document is still visible in the catalog, nothing is read. Only a
 * changed definition, a lost ledger or a document gone since reads them, and
 * then the rules of `publishDefinition` hold: the same content published by
 * another machine counts as published, and nothing is published beside a
 * different definition of the same name and version.
 */
import type { StorageAdapterInterface } from "@automerge/automerge-repo"
import { isVisible } from "../catalog/Catalog.js"
import { schemaTypeOf } from "../schema/schemaDocuments.js"
import type { Database } from "./Database.js"
import { publishDefinition } from "./publishedSchemas.js"

const LEDGER_KEY = ["cairn-schemas", "published"]

interface LedgerEntry {
  type: string
  version: number
  /** The definition's JSON, as `toJSON` writes it. */
  definition: string
  /** The schema document that holds it. */
  id: string
}

/** What opening published: the documents made, and the definitions left unpublished because another of their version is. */
export interface PublishReport {
  published: string[]
  conflicts: string[]
}

/** Publish each of the database's own definitions that is not published yet (see above). */
export async function publishOnOpen(db: Database, storage: StorageAdapterInterface | undefined): Promise<PublishReport> {
  const ledger = await loadLedger(storage)
  const report: PublishReport = { published: [], conflicts: [] }
  let changed = false
  for (const registered of db.definitions()) {
    const own = registered.origin
    const definition = JSON.stringify(own.toJSON())
    const key = `${own.version} ${own.name}`
    const known = ledger.get(key)
    const entry = known && db.catalog.get(known.id)
    if (known?.definition === definition && isVisible(entry) && entry.type === schemaTypeOf(own.name)) continue
    const outcome = await publishDefinition(db, own)
    if (outcome.conflict !== undefined) {
      report.conflicts.push(outcome.conflict)
      continue
    }
    if (outcome.made) report.published.push(outcome.id)
    ledger.set(key, { type: own.name, version: own.version, definition, id: outcome.id })
    changed = true
  }
  if (changed) await storage?.save(LEDGER_KEY, new TextEncoder().encode(JSON.stringify([...ledger.values()])))
  return report
}

/** The ledger by `version name`; an unreadable one is empty (the cost is reading the schema documents once). */
async function loadLedger(storage: StorageAdapterInterface | undefined): Promise<Map<string, LedgerEntry>> {
  const ledger = new Map<string, LedgerEntry>()
  const bytes = await storage?.load(LEDGER_KEY)
  if (!bytes) return ledger
  try {
    const entries: unknown = JSON.parse(new TextDecoder().decode(bytes))
    for (const entry of Array.isArray(entries) ? entries : []) {
      const { type, version, definition, id } = (entry ?? {}) as Partial<LedgerEntry>
      if (typeof type === "string" && typeof version === "number" && typeof definition === "string" && typeof id === "string")
        ledger.set(`${version} ${type}`, { type, version, definition, id })
    }
  } catch {
    ledger.clear()
  }
  return ledger
}
