/**
 * The database API of the peer that holds a data directory, for an app in
 * another process on the same machine (see openLocal). Reads, queries and
 * live results come from the peer over its local socket.
 *
 * Writes: the typed draft (a function) cannot cross a socket, so it runs
 * here. The client keeps an Automerge copy of each document it writes
 * (`load`: the changes since the copy's heads), makes the change on a clone
 * of it with core's own draft (an invalid write throws ValidationError here,
 * and nothing is sent), and sends the change's bytes; the peer checks them
 * again as it checks a peer's (checkLocalWrite), applies them through the
 * same ingest, commits them to disk and answers with the documents. The
 * changes are made by a session actor of the peer's machine, so they are
 * the machine's as the peer's own are; concurrent changes from other apps
 * or peers merge as any CRDT changes do. A new document is built here too,
 * with a creation proof the peer signs (`sign`). One client's writes go one
 * after another: two made at once from one copy would reuse its actor's
 * sequence numbers.
 */
import * as A from "@automerge/automerge"
import {
  buildDetached,
  ClosedError,
  definitionToUse,
  fromHex,
  newSessionActor,
  runQuery,
  sameHeads,
  typeFromJSON,
  TypeDefinition,
  writeDetached,
  assertTypeName,
  type AppDatabase,
  type AppTransaction,
  type CreateInput,
  type DataOf,
  type DatabaseEvents,
  type Doc,
  type DocOf,
  type DraftOf,
  type Envelope,
  type HistoryEntry,
  type QueryOptions,
  type TypeDefinitionJSON,
  type TypeRef,
} from "@cairn/core"
import type { LocalClient } from "./LocalClient.js"
import { LocalSession } from "./LocalSession.js"
import { LocalTransaction } from "./LocalTransaction.js"
import { fromBase64, toBase64 } from "./wire.js"

/** Documents whose Automerge copies a client keeps (the ones written most recently). */
const COPIES = 256

export class LocalDatabase implements AppDatabase {
  readonly #definitions = new Map<string, TypeDefinition>()
  readonly #copies = new Map<string, A.Doc<Envelope>>()
  #actor: string
  #writes: Promise<unknown> = Promise.resolve()
  #closed = false
  /** Through the peer holding the directory (see openLocal). */
  readonly via = "socket" as const
  /** The machine whose peer this is (and whose changes this client makes). */
  readonly machine: { machineId: string; publicKey: string; name?: string }

  private constructor(private readonly session: LocalSession) {
    const { machineId, publicKey, name } = session.hello
    this.machine = { machineId, publicKey, ...(name ? { name } : {}) }
    this.#actor = newSessionActor(machineId)
    this.#learn(session.hello.types, session.hello.newer)
    // Versions the peer learns later (from sync, at a peer's connect) reach the app as they are learnt, not at its next session.
    session.stream("definitions", {}, event => this.#learn([], (event as { newer?: TypeDefinitionJSON[] }).newer))
    // Another peer process now: the copies and this session's actor start afresh (a write lost with the connection
    // may have reached its disk or not, and the copies would not know).
    session.onReconnect(hello => {
      this.#copies.clear()
      this.#actor = newSessionActor(machineId)
      this.#learn(hello.types, hello.newer)
    })
  }

  /**
   * Start a session on a connection: the app's types are registered with the peer (and saved in the directory, as
   * NodePeer.open saves them). With `reconnect` (openLocal's default), a lost connection is made again once a peer
   * holds the directory (see LocalSession.ts).
   */
  static async open(client: LocalClient, types: TypeDefinition<any>[] = [], options: { reconnect?: boolean } = {}): Promise<LocalDatabase> {
    const json = types.map(definition => definition.toJSON())
    const db = new LocalDatabase(await LocalSession.open(client, json, options.reconnect ?? false))
    for (const definition of types) db.#definitions.set(definition.name, definition)
    // Again, now that the app's own definitions are in: they grow with the newer versions the peer knows.
    db.#learn(db.session.hello.types, db.session.hello.newer)
    return db
  }

  /** The data directory the peer holds. */
  get dir(): string {
    return this.session.dir
  }

  /** The methods the peer serves (`command` where it is `cairn serve`). */
  get methods(): readonly string[] {
    return this.session.hello.methods
  }

  /** Resolves when the session ends: closed here, or, without reconnecting, when the peer stopped (every later call then fails with LocalPeerError). */
  get ended(): Promise<void> {
    return this.session.ended
  }

  /** Call a method of the peer's local protocol by name (the CLI's `command`). */
  request<T = unknown>(method: string, params: Record<string, unknown>): Promise<T> {
    return this.#call(method, params)
  }

  create<R extends TypeRef>(type: R, data: CreateInput<R>, options: { message?: string } = {}): Promise<DocOf<R>> {
    return this.#transact(tx => tx.create(type, data), options).then(([doc]) => doc as DocOf<R>)
  }

  get<R extends TypeRef | undefined = undefined>(
    typeOrId: R | string,
    maybeId?: string,
  ): Promise<R extends TypeDefinition<any> ? Doc<DataOf<R>> : Doc> {
    const [type, id] = maybeId === undefined ? [undefined, typeOrId as string] : [nameOf(typeOrId as TypeRef), maybeId]
    return this.#call("get", { id, ...(type ? { type } : {}) })
  }

  change<R extends TypeRef>(
    type: R,
    id: string,
    mutate: (draft: DraftOf<R>) => void,
    options: { message?: string } = {},
  ): Promise<DocOf<R>> {
    return this.#transact(tx => tx.change(type, id, mutate), options).then(([doc]) => doc as DocOf<R>)
  }

  async delete(id: string, options: { message?: string } = {}): Promise<void> {
    await this.#transact(tx => tx.delete(id), options)
  }

  async restore(id: string, options: { message?: string } = {}): Promise<void> {
    await this.#transact(tx => tx.restore(id), options)
  }

  async transaction(build: (tx: AppTransaction) => void, options: { message?: string } = {}): Promise<void> {
    await this.#transact(build, options)
  }

  list<R extends TypeRef>(type: R, options: { includeDeleted?: boolean } = {}): Promise<DocOf<R>[]> {
    return this.query(type, options as QueryOptions<any>)
  }

  async query<R extends TypeRef>(
    type: R,
    options: QueryOptions<R extends TypeDefinition<any> ? DataOf<R> : Record<string, unknown>> = {},
  ): Promise<DocOf<R>[]> {
    const { sent, local } = splitQuery(options)
    const docs = await this.#call<Doc[]>("query", { type: nameOf(type), options: sent })
    return (local ? runQuery(docs, options as QueryOptions<any>) : docs) as DocOf<R>[]
  }

  subscribe(id: string, listener: (doc: Doc | undefined) => void): () => void {
    return this.#stream("subscribe", { id }, doc => listener((doc as Doc | null) ?? undefined))
  }

  liveQuery<R extends TypeRef>(type: R, options: QueryOptions<any>, listener: (docs: DocOf<R>[]) => void): () => void {
    const { sent, local } = splitQuery(options)
    return this.#stream("liveQuery", { type: nameOf(type), options: sent }, docs =>
      listener((local ? runQuery(docs as Doc[], options) : docs) as DocOf<R>[]),
    )
  }

  on<K extends "change" | "quarantine">(event: K, listener: (payload: DatabaseEvents[K]) => void): () => void {
    return this.#stream("watch", { event }, payload => listener(payload as DatabaseEvents[K]))
  }

  history(id: string): Promise<HistoryEntry[]> {
    return this.#call("history", { id })
  }

  view(id: string, heads: string | string[]): Promise<Doc> {
    return this.#call("view", { id, heads })
  }

  /** Wait for the writes in flight, then end the connection (the peer stops this client's streams). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#writes.catch(() => {})
    await this.session.close()
  }

  #call<T>(method: string, params: Record<string, unknown>): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError())
    return this.session.request<T>(method, params)
  }

  #stream(method: string, params: Record<string, unknown>, onEvent: (event: unknown) => void): () => void {
    if (this.#closed) throw new ClosedError()
    return this.session.stream(method, params, onEvent)
  }

  /** The definitions the peer has (an app's own, given to open, stay the ones it uses). */
  #learn(types: TypeDefinitionJSON[], newer: TypeDefinitionJSON[] = []): void {
    for (const json of types) if (!this.#definitions.has(json.name)) this.#definitions.set(json.name, typeFromJSON(json))
    for (const json of newer) {
      const known = this.#definitions.get(json.name)
      try {
        if (known) this.#definitions.set(json.name, known.withNewer(typeFromJSON(json)))
      } catch {
        // Not newer than the app's version, or no lens back to it: its documents stay refused by the peer's checks.
      }
    }
  }

  /** Build a transaction, make its writes here, and have the peer apply them; resolves with the documents written. */
  #transact(build: (tx: LocalTransaction) => void, options: { message?: string }): Promise<Doc[]> {
    if (this.#closed) return Promise.reject(new ClosedError())
    let tx: LocalTransaction
    try {
      tx = new LocalTransaction(this.#actor, name => this.#definitions.get(name))
      build(tx)
    } catch (error) {
      return Promise.reject(error)
    }
    const done = this.#writes.then(() => this.#commit(tx, options.message))
    this.#writes = done.catch(() => {})
    return done
  }

  async #commit(tx: LocalTransaction, message: string | undefined): Promise<Doc[]> {
    const time = Date.now()
    const ops = message ? { time, message } : { time }
    await this.#refresh([...tx.writes.keys()])
    const changed: { id: string; bytes: Uint8Array; next: A.Doc<Envelope>; reads?: { version: number; newer: number[] } }[] = []
    for (const [id, writes] of tx.writes) {
      const copy = this.#copies.get(id)!
      const given = writes.find(write => write.kind === "change" && write.definition)
      // The app's own definition grown with the newer versions the peer knows, so a newer version's document is written through its lens.
      const definition = definitionToUse(given?.kind === "change" ? given.definition : undefined, this.#definitions.get(copy.type.val))
      // On a clone: a write refused here or by the peer must leave the copy as the peer has it.
      const next = writeDetached(id, A.clone(copy, { actor: this.#actor as A.ActorId }), writes, definition, ops)
      if (!sameHeads(A.getHeads(next), A.getHeads(copy))) {
        // What the change was written through, so the peer can refuse one made without the document's version (see checkAppReads).
        const reads = definition && { version: definition.version, newer: definition.newer.map(version => version.version) }
        changed.push({ id, bytes: A.saveSince(next, A.getHeads(copy)), next, ...(reads ? { reads } : {}) })
      }
    }
    const created: { id: string; bytes: Uint8Array }[] = []
    if (tx.creates.length) {
      for (const { creation } of tx.creates) creation.createdAt = time
      const { proofs } = await this.#call<{ proofs: string[] }>("sign", { creations: tx.creates.map(create => create.creation) })
      tx.creates.forEach(({ creation, data }, i) =>
        created.push({ id: creation.id, bytes: buildDetached(creation, this.machine, data, fromHex(proofs[i]!), ops) }),
      )
    }
    const sent = [...created, ...changed]
    if (sent.length === 0) return Promise.all([...tx.writes.keys()].map(id => this.get(id)))
    const docs = await this.#call<Doc[]>("apply", {
      docs: sent.map(write => ({ id: write.id, bytes: toBase64(write.bytes), ...("reads" in write ? { reads: write.reads } : {}) })),
    })
    for (const { id, next } of changed) this.#keep(id, next)
    return docs
  }

  /** Bring the copies of `ids` up to the peer's state (the changes since each copy's heads). */
  async #refresh(ids: string[]): Promise<void> {
    if (ids.length === 0) return
    const have = ids.map(id => ({ id, have: this.#copies.has(id) ? A.getHeads(this.#copies.get(id)!) : [] }))
    const loaded = await this.#call<{ id: string; bytes: string }[]>("load", { docs: have })
    for (const { id, bytes } of loaded) {
      const copy = this.#copies.get(id)
      const data = fromBase64(bytes, "bytes")
      this.#keep(id, copy ? A.loadIncremental(copy, data) : A.load<Envelope>(data, { actor: this.#actor as A.ActorId }))
    }
  }

  #keep(id: string, doc: A.Doc<Envelope>): void {
    this.#copies.delete(id)
    this.#copies.set(id, doc)
    if (this.#copies.size > COPIES) this.#copies.delete(this.#copies.keys().next().value!)
  }
}

function nameOf(type: TypeRef): string {
  if (type instanceof TypeDefinition) return type.name
  assertTypeName(type)
  return type
}

/**
 * What of a query the peer can run (JSON: a `where` of field values, an `orderBy` by name) and whether the rest
 * runs here: a predicate or a comparator is a function, so then the peer sends the type's documents and the query
 * runs on them here.
 */
function splitQuery(options: QueryOptions<any>): { sent: Record<string, unknown>; local: boolean } {
  const local = typeof options.where === "function" || typeof options.orderBy === "function"
  if (local) return { sent: options.includeDeleted ? { includeDeleted: true } : {}, local }
  return { sent: { ...options }, local }
}
