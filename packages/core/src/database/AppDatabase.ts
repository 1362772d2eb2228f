/**
 * The database as an app sees it, whoever holds the data directory: the
 * peer's own `Database` (`peer.db`), or a local client that reaches the
 * machine's peer through its socket (`openLocal` in @cairn/node). App code
 * written against this interface is typed the same for both.
 */
import type { Doc, DocOf } from "../document/Document.js"
import type { CreateDataOf, DataOf, TypeDefinition } from "../schema/TypeDefinition.js"
import type { StoreEvents } from "./DocumentStore.js"
import type { HistoryEntry } from "./history.js"
import type { QueryOptions } from "./Query.js"
import type { DraftOf, TypeRef } from "./Transaction.js"

/** The data `create` takes for a type reference: the definition's create shape, or tagged JSON for a type name. */
export type CreateInput<R> = R extends TypeDefinition<any> ? CreateDataOf<R> : Record<string, unknown>

/** Writes made together (see AppDatabase.transaction). */
export interface AppTransaction {
  /** Create a document; its data is checked now. Returns the id it will have. */
  create<R extends TypeRef>(type: R, data: CreateInput<R>): string
  /** Change a document through a typed draft. */
  change<R extends TypeRef>(type: R, id: string, mutate: (draft: DraftOf<R>) => void): void
  /** Soft-delete a document. */
  delete(id: string): void
  /** Undo a soft delete. */
  restore(id: string): void
}

export interface AppDatabase {
  /** Create a document. Rejects with ValidationError (nothing written) if the data is invalid; resolves when it is on disk. */
  create<R extends TypeRef>(type: R, data: CreateInput<R>, options?: { message?: string }): Promise<DocOf<R>>
  /** Read a document (pass a definition to check its type). NotFoundError, WrongTypeError, QuarantinedError, PurgedError. */
  get<R extends TypeRef | undefined = undefined>(
    typeOrId: R | string,
    maybeId?: string,
  ): Promise<R extends TypeDefinition<any> ? Doc<DataOf<R>> : Doc>
  /** Change a document through a typed draft; an invalid change is refused as a whole. Resolves when on disk. */
  change<R extends TypeRef>(type: R, id: string, mutate: (draft: DraftOf<R>) => void, options?: { message?: string }): Promise<DocOf<R>>
  /** Soft delete: the document leaves lists and replicates as deleted. */
  delete(id: string, options?: { message?: string }): Promise<void>
  /** Undo a soft delete. */
  restore(id: string, options?: { message?: string }): Promise<void>
  /** Change several documents together: every change is checked before any is applied; if one fails, none is. */
  transaction(build: (tx: AppTransaction) => void, options?: { message?: string }): Promise<void>
  /** Live documents of a type, most recently modified first. */
  list<R extends TypeRef>(type: R, options?: { includeDeleted?: boolean }): Promise<DocOf<R>[]>
  /** Query one type: filter, sort, limit. */
  query<R extends TypeRef>(
    type: R,
    options?: QueryOptions<R extends TypeDefinition<any> ? DataOf<R> : Record<string, unknown>>,
  ): Promise<DocOf<R>[]>
  /** `listener` gets the document now and after every change (local or remote); undefined once deleted or purged. Returns the function that stops. */
  subscribe(id: string, listener: (doc: Doc | undefined) => void): () => void
  /** `listener` gets the query's results now and again whenever a document of the type changes. Returns the function that stops. */
  liveQuery<R extends TypeRef>(type: R, options: QueryOptions<any>, listener: (docs: DocOf<R>[]) => void): () => void
  /** Listen for every document change (`change`) or refusal (`quarantine`) here or from peers; returns the function that stops. */
  on<K extends "change" | "quarantine">(event: K, listener: (payload: StoreEvents[K]) => void): () => void
  /** The changes of a document, oldest first: hash, machine, time, message. */
  history(id: string): Promise<HistoryEntry[]>
  /** A read-only view of a document as it was at a change (a hash from history), or at several heads. */
  view(id: string, heads: string | string[]): Promise<Doc>
  /** Finish: resolves when every write is on disk and nothing more is delivered. */
  close(): Promise<void>
}
