/**
 * A set of writes applied together. Every write is checked first (types,
 * deleted documents, the data against its definition); only if all pass is
 * any applied.
 *
 * How "none is applied if one fails" works: the changes to the documents run
 * as nested Automerge changes, each validated before the next begins, so the
 * innermost change finishes only when every one has passed. A failure throws
 * out through all of them, and Automerge rolls each back.
 *
 * If the process dies part-way: the changes are applied in memory as a unit,
 * but written to disk per document (in one group commit). A crash after the
 * commit promise resolved loses nothing; a crash before it may leave some of
 * the documents with their change on disk and others without. Each
 * document's own change is always whole.
 */
import * as A from "@automerge/automerge"
import type { DocHandle, DocumentId, Repo } from "@automerge/automerge-repo"
import { generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo"
import type { Catalog } from "../catalog/Catalog.js"
import { draftOfData, type Draft } from "../document/draft.js"
import { creationMessage, newEnvelope, type Envelope } from "../document/envelope.js"
import { DeletedDocumentError, ImmutableTypeError, ValidationError, WrongTypeError } from "../errors.js"
import type { Fields, FieldsValue } from "../schema/fields.js"
import { fromHex } from "../identity/actor.js"
import type { MachineIdentity } from "../identity/Machine.js"
import { assertTypeName, TypeDefinition } from "../schema/TypeDefinition.js"
import { fromTaggedData, initialValue, isPlainObject, toStored } from "../schema/values.js"
import { validateData, type DocumentStore } from "./DocumentStore.js"

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

interface PendingCreate {
  id: string
  type: string
  data: Record<string, unknown>
  typeVersion: number
  createdAt?: number
  deletedAt?: number | null
}

type Op =
  | { kind: "change"; id: string; type?: string; definition?: TypeDefinition; mutate: (draft: any) => void }
  | { kind: "delete"; id: string }
  | { kind: "restore"; id: string }

export class Transaction {
  readonly #ops: Op[] = []
  readonly #creates: PendingCreate[] = []

  constructor(private readonly context: Context) {}

  /** Create a document; its data is checked now. Returns the id it will have. */
  create(type: TypeRef, data: Record<string, unknown>): string {
    const definition = typeof type === "string" ? (assertTypeName(type), this.context.definition(type)) : type
    const name = typeof type === "string" ? type : type.name
    if (!isPlainObject(data)) throw new ValidationError("document data must be an object")
    const stored = definition
      ? (toStored({ kind: "map", fields: definition.toJSON().fields }, data, []) as Record<string, unknown>)
      : fromTaggedData(data)
    const id = parseAutomergeUrl(generateAutomergeUrl()).documentId as string
    this.#creates.push({ id, type: name, data: stored, typeVersion: definition?.version ?? 1 })
    return id
  }

  /** Create a document from data already in stored form, with given times (import). Returns its new id. */
  createStored(create: Omit<PendingCreate, "id">): string {
    assertTypeName(create.type)
    const definition = this.context.definition(create.type)
    if (definition) validateData(definition, create.data, false)
    const id = parseAutomergeUrl(generateAutomergeUrl()).documentId as string
    this.#creates.push({ ...create, id })
    return id
  }

  /** Change a document through a draft. */
  change(type: TypeRef | undefined, id: string, mutate: (draft: any) => void): void {
    const typed = type instanceof TypeDefinition ? { type: type.name, definition: type } : type === undefined ? {} : { type }
    this.#ops.push({ kind: "change", id, mutate, ...typed })
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
    const { store, machine } = this.context
    const ids = [...new Set(this.#ops.map(op => op.id))]
    const time = Date.now()
    for (const create of this.#creates) create.createdAt ??= time
    // Sign each creation first (see document/envelope.ts): nothing is applied before every part is ready.
    const proofs = await Promise.all(
      this.#creates.map(create => machine.sign(creationMessage(create.id, create.type, store.actor, create.createdAt!, create.typeVersion))),
    )
    const handles = new Map<string, DocHandle<Envelope>>()
    await Promise.all(ids.map(async id => handles.set(id, await store.handle(id))))
    const plans = ids.map(id => this.#plan(id, handles.get(id)!))
    for (const plan of plans) store.prepareLocal(plan.handle)
    const results = new Map<string, A.Doc<Envelope>>()
    const options = message ? { time, message } : { time }
    const applyFrom = (index: number): void => {
      const plan = plans[index]
      if (!plan) return
      const next = A.change(plan.handle.doc(), options, doc => {
        plan.apply(doc)
        applyFrom(index + 1)
      })
      results.set(plan.id, next)
    }
    applyFrom(0)
    const created = this.#creates.map((create, i) => this.#build(create, time, message, proofs[i]!))
    for (const plan of plans) {
      const next = results.get(plan.id)!
      // An edit that changed nothing made no Automerge change: record nothing, or modifiedAt would move here and nowhere else.
      if (A.getHeads(next).join() === A.getHeads(plan.handle.doc()).join()) continue
      store.publishLocal(plan.handle, next)
      store.noteLocal(plan.id, next, time)
    }
    for (const { id, doc } of created) {
      const handle = this.context.repo.import<Envelope>(A.save(doc), { docId: id as DocumentId })
      handle.update(() => doc)
      handle.doneLoading()
      store.adopt(handle)
      store.noteLocal(id, doc, time)
    }
    await this.context.commit([...ids, ...created.map(c => c.id)])
  }

  #build(create: PendingCreate, time: number, message: string | undefined, proof: Uint8Array) {
    const envelope = newEnvelope(create.type, this.context.machine.machineId, create.createdAt ?? time, create.typeVersion, create.data)
    const doc = A.change(A.init<Envelope>({ actor: this.context.store.actor }), message ? { time, message } : { time }, d => {
      // Key order matters: see document/envelope.ts.
      d.v = envelope.v
      d.type = envelope.type
      d.createdBy = envelope.createdBy
      d.createdAt = envelope.createdAt
      d.typeVersion = envelope.typeVersion
      d.deletedAt = create.deletedAt ?? null
      d.data = envelope.data
      d.creatorKey = fromHex(this.context.machine.publicKey)
      d.proof = proof
    })
    return { id: create.id, doc }
  }

  #plan(id: string, handle: DocHandle<Envelope>): { id: string; handle: DocHandle<Envelope>; apply: (doc: Envelope) => void } {
    const entry = this.context.catalog.get(id)!
    const ops = this.#ops.filter(op => op.id === id)
    for (const op of ops) {
      if (op.kind === "change") {
        if (op.type !== undefined && op.type !== entry.type) throw new WrongTypeError(id, op.type, entry.type)
        if (entry.deletedAt !== null && !ops.some(o => o.kind === "restore")) throw new DeletedDocumentError(id)
      }
    }
    // A definition the caller passed validates its change even if it was never registered with the database.
    const given = ops.find(op => op.kind === "change" && op.definition)
    const definition = (given?.kind === "change" ? given.definition : undefined) ?? this.context.definition(entry.type)
    const fields = definition?.toJSON().fields
    return {
      id,
      handle,
      apply: doc => {
        for (const op of ops) {
          if (op.kind === "delete") doc.deletedAt = Date.now()
          else if (op.kind === "restore") doc.deletedAt = null
          else op.mutate(draftOfData(doc.data as never, fields, [], doc as A.Doc<unknown>))
        }
        if (doc.type.val !== entry.type) throw new ImmutableTypeError(`document ${id} is a ${entry.type}; a document's type cannot be changed`)
        // No whole-document validation here: a typed draft checks every write as it is made (see draftOfData).
      },
    }
  }
}

export { TypeDefinition, initialValue }
