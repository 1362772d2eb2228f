/**
 * The holding peer's check of what a local client (an app on this machine,
 * see @cairn/node's local/) sends: the change bytes it made on its copy of
 * a document, or a whole new document. Checked before anything is applied,
 * as strictly as a peer's changes and more, since an app's change is
 * refused, not quarantined: every change is this machine's (the client
 * writes as the machine, never as another), none rewrites what the document
 * fixed at creation, a new document's creation proof holds, and the data
 * matches the type's definition. What passes then goes through the same
 * ingest as a peer's bytes (see ingest.ts).
 */
import * as A from "@automerge/automerge"
import { fixedKeyRefusal, fixedKeyWritten, readEnvelope, verifyCreation, type Envelope } from "../document/envelope.js"
import { RefusedChangeError } from "../errors.js"
import { machineIdOfActor } from "../identity/actor.js"
import type { TypeDefinition } from "../schema/TypeDefinition.js"
import { validateData } from "./entries.js"
import { loadDocument, READ_ONLY_ACTOR } from "./StoredChunks.js"

/**
 * Check bytes a local client sent for document `id` (`current`: the
 * document here, or undefined for a new one). Throws RefusedChangeError
 * (malformed bytes, another machine's changes, a fixed key written, a bad
 * creation, bytes that add nothing) or ValidationError (data that breaks
 * the definition).
 */
export async function checkLocalWrite(
  id: string,
  current: A.Doc<Envelope> | undefined,
  bytes: Uint8Array,
  machineId: string,
  definitionOf: (type: string) => TypeDefinition | undefined,
): Promise<void> {
  const refuse = (reason: string) => new RefusedChangeError(`refused the change to document ${id}: ${reason}`)
  let next: A.Doc<Envelope>
  let changes: Uint8Array[]
  let actors: string[]
  try {
    next = current ? A.loadIncremental(A.clone(current, { actor: READ_ONLY_ACTOR }), bytes) : loadDocument(bytes)
    changes = A.getChangesSince(next, current ? A.getHeads(current) : [])
    actors = changes.map(change => A.decodeChange(change).actor)
  } catch (error) {
    throw refuse(`its bytes are not Automerge changes (${(error as Error).message})`)
  }
  if (A.getMissingDeps(next, A.getHeads(next)).length > 0) throw refuse("it depends on changes this peer does not have")
  // Automerge skips what it cannot read: bytes that add nothing are garbage, or changes the document has (a client never sends those).
  if (changes.length === 0) throw refuse("its bytes add no change (not Automerge changes, or changes the document has already)")
  const stranger = actors.find(actor => machineIdOfActor(actor) !== machineId)
  if (stranger !== undefined) throw refuse(`it is made as machine ${machineIdOfActor(stranger)}, not as this machine (${machineId})`)
  if (current) {
    const fixed = fixedKeyWritten(changes)
    if (fixed !== undefined) throw refuse(fixedKeyRefusal(fixed))
  }
  const envelope = readEnvelope(next)
  if (!envelope.ok) throw refuse(envelope.reason)
  if (!current) {
    if (envelope.meta.createdBy !== machineId) throw refuse(`it is created by machine ${envelope.meta.createdBy}, not by this machine`)
    const unproven = await verifyCreation(id, next, envelope.meta)
    if (unproven) throw refuse(unproven)
  }
  const definition = definitionOf(envelope.meta.type)
  if (definition) validateData(definition, next.data, current !== undefined, next.typeVersion)
}
