/**
 * Writes made on a loose Automerge document, one no repo holds: what a
 * local client (see @cairn/node's local/) does with its copy of a document
 * before it sends the change it made to the peer that holds the data
 * directory. The typed draft cannot cross a socket, so it runs here, with
 * the same draft and the same checks as a Transaction on the peer: an
 * invalid write throws ValidationError before anything is sent, and the
 * peer checks the change bytes it receives once more (checkLocalWrite).
 */
import * as A from "@automerge/automerge"
import { DeletedDocumentError, ValidationError, WrongTypeError } from "../errors.js"
import { fromHex } from "../identity/actor.js"
import type { TypeDefinition } from "../schema/TypeDefinition.js"
import { fromTaggedData, isPlainObject, toStored } from "../schema/values.js"
import { newDocument, newDocumentId } from "./creation.js"
import { draftOfDocument } from "./lensedDraft.js"
import { creationMessage, newEnvelope, type Envelope } from "./envelope.js"

/** One write to a document, as a transaction collects them. */
export type DetachedWrite =
  | { kind: "change"; type?: string; definition?: TypeDefinition; mutate: (draft: any) => void }
  | { kind: "delete" }
  | { kind: "restore" }

/**
 * Make a document's writes on `doc` as one Automerge change (by `doc`'s
 * actor): the type each change names must be the document's, a deleted
 * document takes no change unless it is restored with it, and a typed draft
 * checks every write. Returns `doc` itself when the writes changed nothing.
 */
export function writeDetached(
  id: string,
  doc: A.Doc<Envelope>,
  writes: DetachedWrite[],
  definition: TypeDefinition | undefined,
  options: { time: number; message?: string },
): A.Doc<Envelope> {
  const type = doc.type.val
  const restores = writes.some(write => write.kind === "restore")
  for (const write of writes) {
    if (write.kind !== "change") continue
    if (write.type !== undefined && write.type !== type) throw new WrongTypeError(id, write.type, type)
    if (doc.deletedAt !== null && !restores) throw new DeletedDocumentError(id)
  }
  return A.change(doc, options.message ? options : { time: options.time }, root => {
    for (const write of writes) {
      if (write.kind === "delete") root.deletedAt = options.time
      else if (write.kind === "restore") root.deletedAt = null
      else write.mutate(draftOfDocument(root as A.Doc<Envelope>, definition))
    }
  })
}

/** A new document's data in stored form, checked against its definition (ValidationError), or read as tagged JSON without one. */
export function storedCreateData(definition: TypeDefinition | undefined, data: unknown): Record<string, unknown> {
  if (!isPlainObject(data)) throw new ValidationError("document data must be an object")
  return definition
    ? (toStored({ kind: "map", fields: definition.toJSON().fields }, data, []) as Record<string, unknown>)
    : fromTaggedData(data)
}

/** What the creating machine must sign for a new document (see envelope.ts), and what the document is built from. */
export interface DetachedCreation {
  id: string
  type: string
  /** The actor of the first change (the client's session actor of the machine). */
  actor: string
  createdAt: number
  typeVersion: number
}

/** A creation to be signed: a fresh id, made by `actor` now. */
export function newCreation(type: string, actor: string, typeVersion: number, createdAt: number): DetachedCreation {
  return { id: newDocumentId(), type, actor, createdAt, typeVersion }
}

/** The bytes `machine` signs to prove it created the document (creationMessage). */
export function creationMessageOf(creation: DetachedCreation): Uint8Array {
  return creationMessage(creation.id, creation.type, creation.actor, creation.createdAt, creation.typeVersion)
}

/** A new document's saved bytes, from its signed creation and stored data. */
export function buildDetached(
  creation: DetachedCreation,
  machine: { machineId: string; publicKey: string },
  data: Record<string, unknown>,
  proof: Uint8Array,
  options: { time: number; message?: string },
): Uint8Array {
  const envelope: Envelope = {
    ...newEnvelope(creation.type, machine.machineId, creation.createdAt, creation.typeVersion, data),
    creatorKey: fromHex(machine.publicKey),
    proof,
  }
  return newDocument(creation.actor, envelope, options.time, options.message).bytes
}
