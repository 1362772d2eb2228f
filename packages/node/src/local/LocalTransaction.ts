/**
 * The writes of one local client's transaction (or of one create, change,
 * delete or restore), collected as a peer's Transaction collects them and
 * checked as far as they can be without the documents: a create's data is
 * checked against its definition at once (ValidationError), as on the peer.
 */
import {
  newCreation,
  storedCreateData,
  TypeDefinition,
  assertTypeName,
  type AppTransaction,
  type CreateInput,
  type DetachedCreation,
  type DetachedWrite,
  type DraftOf,
  type TypeRef,
} from "@cairn/core"

export interface PendingCreate {
  creation: DetachedCreation
  data: Record<string, unknown>
}

export class LocalTransaction implements AppTransaction {
  /** Writes to documents that exist, by id, in the order made. */
  readonly writes = new Map<string, DetachedWrite[]>()
  readonly creates: PendingCreate[] = []

  constructor(
    private readonly actor: string,
    private readonly definitionOf: (name: string) => TypeDefinition | undefined,
  ) {}

  create<R extends TypeRef>(type: R, data: CreateInput<R>): string {
    const { name, definition } = this.#resolve(type)
    const stored = storedCreateData(definition, data)
    const creation = newCreation(name, this.actor, definition?.version ?? 1, Date.now())
    this.creates.push({ creation, data: stored })
    return creation.id
  }

  change<R extends TypeRef>(type: R, id: string, mutate: (draft: DraftOf<R>) => void): void {
    const { name, definition } = this.#resolve(type)
    this.#add(id, { kind: "change", type: name, mutate, ...(definition ? { definition } : {}) })
  }

  delete(id: string): void {
    this.#add(id, { kind: "delete" })
  }

  restore(id: string): void {
    this.#add(id, { kind: "restore" })
  }

  #add(id: string, write: DetachedWrite): void {
    if (typeof id !== "string" || id === "") throw new TypeError("a document id is a non-empty string")
    const writes = this.writes.get(id)
    if (writes) writes.push(write)
    else this.writes.set(id, [write])
  }

  #resolve(type: TypeRef): { name: string; definition: TypeDefinition | undefined } {
    if (type instanceof TypeDefinition) return { name: type.name, definition: type }
    assertTypeName(type)
    return { name: type, definition: this.definitionOf(type) }
  }
}
