/**
 * A set of writes applied together. Every write is checked first (types,
 * deleted documents, the data against its definition); only if all pass is
 * any applied.
 *
 * How "none is applied if one fails": each document's change is made and
 * checked on its own, in turn, on a copy the repo does not hold; the new
 * states are handed to the repo only once every one has passed. A document
 * in memory is changed on a clone of its handle's document: a change made on
 * the handle's own document is at once in the state the repo holds (it is
 * shared with the documents derived from it), where a save may pick it up,
 * and could not be taken back if a later part failed. The last one changed
 * needs no clone: nothing can fail after it, and if it fails itself
 * Automerge rolls it back. (The changes used to run nested inside one
 * another, each inside the last one's callback, which ran out of stack at
 * about 2,000 documents.)
 *
 * New documents never get a repo handle (one is made when the document is
 * read live or synced live: see Replicator.shareConfig), and a large
 * transaction (more than HANDLES_AT_MOST documents not in memory) does not
 * load its documents into repo handles either: automerge-repo builds each
 * handle slowly, and a process holding thousands of live Automerge documents
 * spends most of its time collecting garbage (measured: 1,000 creations
 * through handles took 2 s, 2,000 took 16 s, 4,000 about 100 s; without
 * handles 10,000 take about 4 s of CPU, and 10,000 changes 3 s). Each of
 * those documents is loaded from storage (a few at a time) or built,
 * changed, and freed at once, keeping only its new chunk and catalog entry;
 * the chunks are written behind the repo (see PendingChunks.ts) and every
 * entry listed in the same step as the rest of the transaction.
 *
 * If the process dies part-way: the changes are applied in memory as a unit,
 * and a crash after the commit promise resolved loses nothing. Before it, on
 * a storage with atomic batches (see storage/AtomicStorage.ts), the
 * transaction is on disk whole or not at all: every document's new chunk
 * (also one changed through its handle, see DocumentStore.journal) and its
 * catalog entries go out in the group commit's one batch (GroupWriter.ts).
 * On any other storage they are written per document, so a crash may leave
 * some documents with their change on disk and others without; each
 * document's own change is always whole.
 */
import * as A from "@automerge/automerge"
import type { DocumentId, Repo } from "@automerge/automerge-repo"
import type { Catalog, CatalogEntry } from "../catalog/Catalog.js"
import type { Draft } from "../document/draft.js"
import { draftOfDocument } from "../document/lensedDraft.js"
import { asMaterialized, newDocument, newDocumentId } from "../document/creation.js"
import type { Doc } from "../document/Document.js"
import { creationMessage, newEnvelope, type Envelope } from "../document/envelope.js"
import { sameHeads } from "../document/heads.js"
import { DeletedDocumentError, ValidationError, WrongTypeError } from "../errors.js"
import type { Fields, FieldsValue } from "../schema/fields.js"
import { fromHex } from "../identity/actor.js"
import type { MachineIdentity } from "../identity/Machine.js"
import { assertTypeName, dataFieldOf, definitionToUse, TypeDefinition } from "../schema/TypeDefinition.js"
import { fromTaggedData, initialValue, isPlainObject, toPlain, toStored, withDefaults } from "../schema/values.js"
import type { DocumentStore } from "./DocumentStore.js"
import { validateData } from "./entries.js"
import { FIRST_CHUNK } from "./PendingChunks.js"

/** A type given by its definition (typed) or by name (untyped, tagged JSON). */
export type TypeRef = TypeDefinition<any> | string

/** The draft a change callback receives for a type. */
export type DraftOf<R> = R extends TypeDefinition<infer F extends Fields> ? Draft<FieldsValue<F>> : Record<string, any>

interface Context {
  repo: Repo
  store: DocumentStore
  catalog: Catalog
  machine: MachineIdentity
  definition(name: string): TypeDefinition | undefined
  commit(ids: string[]): Promise<void>
}

/** A change that stands alone in its transaction (see changeAlone): its own message, and where its failure goes. */
interface Alone {
  message?: string
  fail(error: unknown): void
}

interface PendingCreate {
  id: string
  type: string
  data: Record<string, unknown>
  typeVersion: number
  createdAt?: number
  deletedAt?: number | null
  /** The definition the data was checked with, if any. */
  definition?: TypeDefinition
  /** The head and bytes of its first change, once built. */
  head?: string
  bytes?: Uint8Array
}

type Op =
  | { kind: "change"; id: string; type?: string; definition?: TypeDefinition; mutate: (draft: any) => void; alone?: Alone }
  | { kind: "delete"; id: string }
  | { kind: "restore"; id: string }

export class Transaction {
  readonly #ops: Op[] = []
  readonly #creates: PendingCreate[] = []
  #creatorKey: Uint8Array | undefined

  constructor(private readonly context: Context) {}

  /** Create a document; its data is checked now. Returns the id it will have. */
  create(type: TypeRef, data: Record<string, unknown>): string {
    if (typeof type === "string") assertTypeName(type)
    const definition = typeof type === "string" ? this.context.definition(type) : type
    const name = typeof type === "string" ? type : type.name
    if (!isPlainObject(data)) throw new ValidationError("document data must be an object")
    const stored = definition
      ? (toStored({ kind: "map", fields: definition.toJSON().fields }, data, []) as Record<string, unknown>)
      : fromTaggedData(data)
    const id = newDocumentId()
    this.#creates.push({ id, type: name, data: stored, typeVersion: definition?.version ?? 1, definition })
    return id
  }

  /**
   * After the commit: a document this transaction created, as reading it
   * back gives it, without loading it (the data is the one written), and
   * kept for the next read as a read keeps it; or undefined if it changed
   * since.
   */
  created(id: string): Doc | undefined {
    const create = this.#creates.find(c => c.id === id)
    const entry = this.context.catalog.get(id)
    if (!create?.head || !entry || entry.heads.length !== 1 || entry.heads[0] !== create.head) return undefined
    if (create.bytes) this.context.store.rememberNew(id, create.bytes, entry.heads)
    const data = asMaterialized(create.data) as Record<string, unknown>
    return Object.freeze({
      id,
      type: entry.type,
      createdAt: entry.createdAt,
      createdBy: entry.createdBy,
      modifiedAt: entry.modifiedAt,
      deletedAt: entry.deletedAt,
      data: toPlain(create.definition ? withDefaults(dataFieldOf(create.definition), data) : data) as Record<string, unknown>,
    })
  }

  /** Create a document from data already in stored form, with given times (import). Returns its new id. */
  createStored(create: Omit<PendingCreate, "id">): string {
    assertTypeName(create.type)
    const definition = this.context.definition(create.type)
    if (definition) validateData(definition, create.data, false)
    const id = newDocumentId()
    this.#creates.push({ ...create, id })
    return id
  }

  /** Change a document through a draft. */
  change(type: TypeRef | undefined, id: string, mutate: (draft: any) => void): void {
    const typed = type instanceof TypeDefinition ? { type: type.name, definition: type } : type === undefined ? {} : { type }
    this.#ops.push({ kind: "change", id, mutate, ...typed })
  }

  /**
   * Change a document as its own Automerge change, which fails alone: its
   * error goes to `fail` and the transaction's other changes still apply
   * (several app changes to one document made together, see ChangeSeries.ts).
   */
  changeAlone(type: TypeRef | undefined, id: string, mutate: (draft: any) => void, alone: Alone): void {
    const typed = type instanceof TypeDefinition ? { type: type.name, definition: type } : type === undefined ? {} : { type }
    this.#ops.push({ kind: "change", id, mutate, alone, ...typed })
  }

  /** Soft-delete a document. */
  delete(id: string): void {
    this.#ops.push({ kind: "delete", id })
  }

  /** Undo a soft delete. */
  restore(id: string): void {
    this.#ops.push({ kind: "restore", id })
  }

  /** Check and apply everything; resolves when it is on disk. */
  async commit(message?: string): Promise<void> {
    const { store } = this.context
    const time = Date.now()
    for (const create of this.#creates) create.createdAt ??= time
    const byId = new Map<string, Op[]>()
    for (const op of this.#ops) {
      const ops = byId.get(op.id)
      if (ops) ops.push(op)
      else byId.set(op.id, [op])
    }
    const outside = [...byId.keys()].filter(id => !store.loaded(id))
    const large = store.writesDetached && outside.length + this.#creates.length > HANDLES_AT_MOST
    const detached = large ? outside : []
    const ids = await store.exclusive(detached, () => this.#apply(byId, new Set(detached), time, message))
    await this.context.commit(ids)
  }

  /** Check every part, then apply them all in one step; returns the ids written. */
  async #apply(byId: Map<string, Op[]>, detached: Set<string>, time: number, message: string | undefined): Promise<string[]> {
    const { store, machine } = this.context
    const options = message ? { time, message } : { time }
    // Sign each creation first (see document/envelope.ts): nothing is applied before every part is ready.
    const proofs = await Promise.all(
      this.#creates.map(create =>
        machine.sign(creationMessage(create.id, create.type, store.actor, create.createdAt!, create.typeVersion)),
      ),
    )
    const inMemory = [...byId.keys()].filter(id => !detached.has(id))
    const handles = await Promise.all(inMemory.map(id => store.handle(id)))
    const written = await this.#changeStored([...detached], byId, options)
    // New documents never get a handle where the store can write without one: even one at a time, thousands of
    // handles made in one process cost more with every one (see above); a handle is made when one is read live.
    const created = this.#creates.map((create, i) => this.#build(create, options, proofs[i]!))
    if (store.writesDetached) written.push(...created.splice(0))
    for (const handle of handles) store.prepareLocal(handle)
    const changed = handles.map((handle, i) => {
      const base = handle.doc()
      const copy = i === handles.length - 1 ? base : A.clone(base, { actor: store.actor as A.ActorId })
      return { id: inMemory[i]!, handle, next: this.#change(inMemory[i]!, byId.get(inMemory[i]!)!, copy, options) }
    })
    for (const { id, handle, next } of changed) {
      const before = A.getHeads(handle.doc())
      // An edit that changed nothing made no Automerge change: record nothing, or modifiedAt would move here and nowhere else.
      if (A.getHeads(next).join() === before.join()) continue
      // The journal entry first: the repo's save of the new state waits for it (see GroupWriter.holdRepoSaves).
      store.journal(id, next, before)
      store.publishLocal(handle, next)
      store.noteLocal(id, next, time)
    }
    for (const part of written) store.writeDetached(part.id, part.bytes, part.entry, part.name)
    for (const { id, bytes } of created) {
      const doc = A.load<Envelope>(bytes, { actor: store.actor as A.ActorId })
      const handle = this.context.repo.import<Envelope>(bytes, { docId: id as DocumentId })
      handle.update(() => doc)
      handle.doneLoading()
      store.adopt(handle)
      store.noteLocal(id, doc, time)
    }
    return [...byId.keys(), ...this.#creates.map(create => create.id)]
  }

  /**
   * Changes to documents not in memory, each made on its stored state loaded
   * for it (a few at a time) and freed as soon as its new chunk is taken.
   */
  async #changeStored(ids: string[], byId: Map<string, Op[]>, options: { time: number; message?: string }): Promise<DetachedPart[]> {
    const parts: DetachedPart[] = []
    for (let start = 0; start < ids.length; start += LOAD_BATCH) {
      const batch = ids.slice(start, start + LOAD_BATCH)
      const docs = await Promise.all(batch.map(id => this.context.store.loadForChange(id)))
      try {
        batch.forEach((id, i) => {
          const heads = A.getHeads(docs[i]!)
          const next = this.#change(id, byId.get(id)!, docs[i]!, options)
          if (!sameHeads(A.getHeads(next), heads)) parts.push(detachedPart(this.context.store, id, next, heads, options.time))
        })
      } finally {
        for (const doc of docs) A.free(doc)
      }
    }
    return parts
  }

  /** A new document's first change and its catalog entry (see document/creation.ts). */
  #build(create: PendingCreate, options: { time: number; message?: string }, proof: Uint8Array): DetachedPart {
    const { machine, store } = this.context
    const createdAt = create.createdAt ?? options.time
    const envelope: Envelope = {
      ...newEnvelope(create.type, machine.machineId, createdAt, create.typeVersion, create.data),
      deletedAt: create.deletedAt ?? null,
      creatorKey: (this.#creatorKey ??= fromHex(machine.publicKey)),
      proof,
    }
    const { bytes, head } = newDocument(store.actor, envelope, options.time, options.message)
    create.head = head
    create.bytes = bytes
    const entry: CatalogEntry = {
      id: create.id,
      type: create.type,
      createdAt,
      createdBy: machine.machineId,
      modifiedAt: options.time,
      deletedAt: envelope.deletedAt,
      heads: [head],
    }
    return { id: create.id, bytes, entry, name: FIRST_CHUNK }
  }

  /** Make a document's writes on `doc`: one Automerge change, or one for each change that stands alone. */
  #change(id: string, ops: Op[], doc: A.Doc<Envelope>, options: { time: number; message?: string }): A.Doc<Envelope> {
    if (!ops.some(op => op.kind === "change" && op.alone)) return A.change(doc, options, draft => this.#mutate(id, ops, draft))
    let next = doc
    for (const op of ops) {
      const alone = op.kind === "change" ? op.alone : undefined
      try {
        next = A.change(next, alone?.message ? { ...options, message: alone.message } : options, draft => this.#mutate(id, [op], draft))
      } catch (error) {
        // Automerge rolled the failed change back: `next` is still the state before it.
        if (!alone) throw error
        alone.fail(error)
      }
    }
    return next
  }

  /** Check a document's writes against its catalog entry, then make them on `doc` (inside its Automerge change). */
  #mutate(id: string, ops: Op[], doc: Envelope): void {
    const entry = this.context.catalog.get(id)!
    const restores = ops.some(op => op.kind === "restore")
    for (const op of ops) {
      if (op.kind !== "change") continue
      if (op.type !== undefined && op.type !== entry.type) throw new WrongTypeError(id, op.type, entry.type)
      if (entry.deletedAt !== null && !restores) throw new DeletedDocumentError(id)
    }
    // A definition the caller passed validates its change even if it was never registered with the database.
    const given = ops.find(op => op.kind === "change" && op.definition)
    const definition = definitionToUse(given?.kind === "change" ? given.definition : undefined, this.context.definition(entry.type))
    for (const op of ops) {
      if (op.kind === "delete") doc.deletedAt = Date.now()
      else if (op.kind === "restore") doc.deletedAt = null
      else op.mutate(draftOfDocument(doc as A.Doc<Envelope>, definition))
    }
    // No whole-document validation here: a typed draft checks every write as it is made, and reaches only the
    // document's data, never its type (see draftOfData). Reading the type back here cost a lookup on every keystroke.
  }
}

/**
 * Above this many documents not in memory, a transaction writes without repo
 * handles (see the header). Below it, loading the handles is cheap and keeps
 * the documents in memory for the edits that usually follow a small write.
 */
const HANDLES_AT_MOST = 100

/** Documents a large transaction holds loaded at once: enough to overlap the reads, few enough to keep the heap small. */
const LOAD_BATCH = 64

/** A document's part of a large transaction, ready to apply: its new chunk and catalog entry (the document itself is freed). */
interface DetachedPart {
  id: string
  bytes: Uint8Array
  entry: CatalogEntry
  /** Its chunk's name, when not a fresh unique one (see PendingChunks.ts). */
  name?: string
}

/** What a large transaction keeps of `doc`: its changes since `heads` (all of it, for a creation) and its catalog entry. */
function detachedPart(store: DocumentStore, id: string, doc: A.Doc<Envelope>, heads: A.Heads, time: number): DetachedPart {
  return { id, bytes: heads.length ? A.saveSince(doc, heads) : A.save(doc), entry: store.localEntry(id, doc, time) }
}

export { TypeDefinition, initialValue }
