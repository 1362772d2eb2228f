/**
 * What the catalog lists for a document, after a local change or for a
 * state from a peer, and the rules a document from a peer is checked by (or one read from storage
 * after a peer wrote it): its envelope must be whole, its type never changes,
 * its creation proof must hold, and its data must match its type's
 * definition where this peer has one. One that breaks a rule is listed
 * quarantined, with the reason, and never shown as its type.
 */
import type * as A from "@automerge/automerge"
import type { CatalogEntry } from "../catalog/Catalog.js"
import { modifiedAtOf, readEnvelope, verifyCreation, type Envelope, type EnvelopeCheck } from "../document/envelope.js"
import { sortedHeads } from "../document/heads.js"
import { ValidationError } from "../errors.js"
import { storedDataFieldOf, type TypeDefinition } from "../schema/TypeDefinition.js"
import { validateStored } from "../schema/values.js"

/** The definition of a type, if this peer has one. */
export type Definitions = (type: string) => TypeDefinition | undefined

/**
 * What the catalog lists for a document after a local change (`previous`: what it listed before) by machine
 * `machineId`: the document is then one it vouches for (see `vouchesMine`).
 */
export function localEntry(
  id: string,
  doc: A.Doc<Envelope>,
  modifiedAt: number,
  previous: CatalogEntry | undefined,
  machineId: string,
): CatalogEntry {
  const entry: CatalogEntry = {
    id,
    type: doc.type.val,
    createdAt: doc.createdAt,
    createdBy: doc.createdBy.val,
    modifiedAt,
    deletedAt: doc.deletedAt ?? null,
    heads: sortedHeads(doc),
  }
  if (previous?.quarantined) entry.quarantined = previous.quarantined
  if (previous?.vouches) entry.vouches = previous.vouches
  if (previous?.mine || entry.createdBy !== machineId) entry.mine = true
  return entry
}

/** True when machine `machineId` has changes in the document listed as `entry`: it vouches for them when it sends it. */
export function vouchesMine(entry: CatalogEntry, machineId: string): boolean {
  return entry.mine === true || entry.createdBy === machineId
}

/** What the catalog needs of a document state: its root, its heads (sorted) and the time of its latest change. */
export interface RemoteState {
  root: A.Doc<Envelope>
  heads: string[]
  modifiedAt: number
}

/** The state of an Automerge document. */
export function remoteState(doc: A.Doc<Envelope>): RemoteState {
  return { root: doc, heads: sortedHeads(doc), modifiedAt: modifiedAtOf(doc) }
}

/**
 * What the catalog lists for a document state from a peer, given what it
 * listed before (`previous`), what its envelope holds (`readEnvelope`) and,
 * for a document new here, why its creation proof failed (`unproven`).
 */
export function remoteEntry(
  id: string,
  { root: doc, heads, modifiedAt }: RemoteState,
  previous: CatalogEntry | undefined,
  definitions: Definitions,
  unproven: string | undefined,
  envelope: EnvelopeCheck,
  vouches?: Uint8Array,
): CatalogEntry {
  let reason = envelope.ok ? unproven : envelope.reason
  if (envelope.ok && previous && !previous.quarantined && previous.type !== envelope.meta.type)
    reason = typeChange(previous.type, envelope.meta.type)
  const type = previous?.type ?? (envelope.ok ? envelope.meta.type : "unknown")
  if (!reason && envelope.ok) reason = invalidData(definitions(envelope.meta.type), envelope.meta.type, doc)
  const entry: CatalogEntry = envelope.ok
    ? {
        id,
        type,
        createdAt: envelope.meta.createdAt,
        createdBy: envelope.meta.createdBy,
        modifiedAt,
        deletedAt: envelope.meta.deletedAt,
        heads,
      }
    : {
        id,
        type,
        createdAt: previous?.createdAt ?? 0,
        createdBy: previous?.createdBy ?? "",
        modifiedAt,
        deletedAt: previous?.deletedAt ?? null,
        heads,
      }
  if (reason ?? previous?.quarantined) entry.quarantined = (reason ?? previous?.quarantined)!
  if (vouches) entry.vouches = vouches
  if (previous?.mine) entry.mine = true
  return entry
}

/**
 * Why a quarantined document (listed as `previous`) still breaks a rule with
 * the definitions here now, or undefined when it passes and may be listed again.
 */
export async function stillRefused(
  id: string,
  doc: A.Doc<Envelope>,
  previous: CatalogEntry,
  definitions: Definitions,
): Promise<string | undefined> {
  const envelope = readEnvelope(doc)
  if (!envelope.ok) return envelope.reason
  return (
    (envelope.meta.type !== previous.type ? typeChange(previous.type, envelope.meta.type) : undefined) ??
    (await verifyCreation(id, doc, envelope.meta)) ??
    invalidData(definitions(envelope.meta.type), envelope.meta.type, doc)
  )
}

/** Why a document's creation proof fails (undefined when it holds, or when the envelope itself is bad: remoteEntry says why). */
export async function creationCheck(id: string, doc: A.Doc<Envelope>): Promise<string | undefined> {
  const envelope = readEnvelope(doc)
  return envelope.ok ? verifyCreation(id, doc, envelope.meta) : undefined
}

/** Why the data breaks its type's definition, or undefined if it is fine or the type is unknown here. */
export function invalidData(definition: TypeDefinition | undefined, type: string, doc: A.Doc<Envelope>): string | undefined {
  if (!definition) return undefined
  try {
    // Against the shape of the version it was created at, derived through the lens when one lies between.
    validateData(definition, doc.data, true, doc.typeVersion)
    return undefined
  } catch (error) {
    return error instanceof ValidationError ? `its data does not match type ${type}: ${error.message}` : String(error)
  }
}

/** Validate a document's data map (of one created at `version`) against its definition (throws ValidationError). */
export function validateData(definition: TypeDefinition, data: unknown, fromOtherVersions: boolean, version = definition.version): void {
  validateStored(storedDataFieldOf(definition, version), data, [], { fromOtherVersions })
}

function typeChange(from: string, to: string): string {
  return `its type was changed from ${from} to ${to}`
}
