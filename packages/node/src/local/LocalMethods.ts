/**
 * What the local socket's methods do on the holding peer: the app API of
 * its database (see core's AppDatabase) in a form that crosses a socket.
 * Reads answer with documents as the database reads them. Writes come as
 * Automerge bytes the client made on its copy of each document (`load`
 * gives the copy, `sign` the creation proofs of new documents), checked
 * with checkLocalWrite and applied together through the same ingest as a
 * peer's. Live reads are streams of events.
 */
import * as A from "@automerge/automerge"
import {
  assertTypeName,
  checkLocalWrite,
  creationMessage,
  machineIdOfActor,
  RefusedChangeError,
  toHex,
  typeFromJSON,
  type QueryOptions,
  type TypeDefinitionJSON,
} from "@cairn/core"
import type { LocalHost, LocalMethod } from "./LocalServer.js"
import { fromBase64, LocalPeerError, toBase64 } from "./wire.js"

/** Documents one `load` or `apply` may carry. */
const MAX_DOCUMENTS = 10_000

export function appMethods(host: LocalHost, methodNames: () => string[]): Record<string, LocalMethod> {
  const { db } = host
  return {
    async hello(params) {
      const types = optionalList(params, "types").map(json => typeFromJSON(json as TypeDefinitionJSON))
      if (types.length) {
        await host.directory.saveTypes(types)
        for (const definition of types) db.register(definition)
      }
      const { machineId, publicKey, name } = db.machine
      const known = (await host.directory.types()).map(definition => definition.toJSON())
      const newer = newerDefinitions(db)
      return {
        machineId,
        publicKey,
        name: name ?? null,
        dir: host.directory.path,
        types: known,
        newer,
        methods: ["stop", ...methodNames()],
      }
    },

    async get(params) {
      const id = text(params, "id")
      return params.type === undefined ? db.get(id) : db.get(typeName(params.type), id)
    },

    async query(params) {
      return db.query(typeName(params.type), queryOptions(params.options))
    },

    async history(params) {
      return db.history(text(params, "id"))
    },

    async view(params) {
      const heads = Array.isArray(params.heads) ? params.heads.map(hash => String(hash)) : text(params, "heads")
      return db.view(text(params, "id"), heads)
    },

    /** Each document's changes since the heads the client has of it (all of it for none): the copy it makes its writes on. */
    async load(params) {
      const wanted = documents(params, "docs")
      return Promise.all(
        wanted.map(async item => {
          const id = text(item, "id")
          const have = optionalList(item, "have").map(String)
          const doc = await db.replica.store.read(id)
          const known = have.filter(hash => A.hasHeads(doc, [hash]))
          return { id, bytes: toBase64(known.length ? A.saveSince(doc, known) : A.save(doc)) }
        }),
      )
    },

    /** Proofs that this machine creates the documents the client is about to build (only for its own actors, only for new ids). */
    async sign(params) {
      const creations = documents(params, "creations")
      const proofs = await Promise.all(
        creations.map(creation => {
          const id = text(creation, "id")
          const type = text(creation, "type")
          const actor = text(creation, "actor")
          assertTypeName(type)
          if (!/^[0-9a-f]{48}$/.test(actor) || machineIdOfActor(actor) !== db.machine.machineId)
            throw new RefusedChangeError(`refused to sign document ${id}: actor ${actor} is not a session of this machine`)
          if (db.catalog.get(id)) throw new RefusedChangeError(`refused to sign document ${id}: a document with that id exists`)
          const createdAt = number(creation, "createdAt")
          const typeVersion = number(creation, "typeVersion")
          return db.machine.sign(creationMessage(id, type, actor, createdAt, typeVersion))
        }),
      )
      return { proofs: proofs.map(toHex) }
    },

    /** Apply writes: every document's bytes checked first, then all ingested together (one commit); answers with the documents. */
    async apply(params) {
      const writes = documents(params, "docs").map(item => ({
        id: text(item, "id"),
        bytes: fromBase64(item.bytes, "bytes"),
        reads: appReads(item.reads),
      }))
      if (new Set(writes.map(write => write.id)).size !== writes.length) throw new LocalPeerError("apply: a document appears twice")
      for (const write of writes) {
        const current = db.catalog.get(write.id) ? await db.replica.store.read(write.id) : undefined
        if (current) checkAppReads(write.id, current, write.reads)
        await checkLocalWrite(write.id, current, write.bytes, db.machine.machineId, type => db.definition(type))
      }
      const refused: string[] = []
      await db.replica.ingest(
        writes,
        () => true,
        (id, reason) => refused.push(`${id}: ${reason}`),
        "local",
      )
      if (refused.length) throw new RefusedChangeError(`refused changes: ${refused.join("; ")}`)
      return Promise.all(writes.map(write => db.get(write.id)))
    },

    async subscribe(params, context) {
      const id = text(params, "id")
      context.stream(emit => db.subscribe(id, doc => emit(doc ?? null)))
    },

    async liveQuery(params, context) {
      const type = typeName(params.type)
      const options = queryOptions(params.options)
      context.stream(emit => db.liveQuery(type, options, emit))
    },

    /** The newer versions this peer knows (see hello), at once and again each time it learns one: the app writes through their lenses. */
    async definitions(_params, context) {
      context.stream(emit => {
        emit({ newer: newerDefinitions(db) })
        return db.on("learnt", () => emit({ newer: newerDefinitions(db) }))
      })
    },

    /** Every `change` (or `quarantine`) event of the database. */
    async watch(params, context) {
      const event = params.event ?? "change"
      if (event !== "change" && event !== "quarantine") throw new LocalPeerError(`watch: unknown event ${JSON.stringify(event)}`)
      context.stream(emit => db.on(event, emit))
    },
  }
}

/** The newer versions of registered types this peer has learnt, as JSON. */
function newerDefinitions(db: LocalHost["db"]): TypeDefinitionJSON[] {
  return db.definitions().flatMap(definition => definition.newer.map(version => version.toJSON()))
}

/** The versions of a document's type an app writes through: its own (and older ones, by its lenses) and the newer ones it has learnt. */
interface AppReads {
  version: number
  newer: number[]
}

function appReads(value: unknown): AppReads | undefined {
  if (value === undefined || value === null) return undefined
  const o = value as Record<string, unknown>
  if (typeof o !== "object" || !Number.isSafeInteger(o.version) || !Array.isArray(o.newer) || !o.newer.every(Number.isSafeInteger))
    throw new LocalPeerError("reads must be { version, newer: [versions] }")
  return { version: o.version as number, newer: o.newer as number[] }
}

/**
 * An app that changes a document of a version it has not learnt would write its own field names into another
 * version's shape (data under the wrong names): refused, so it can learn the version (the peer pushes it, see
 * `definitions`) and write again. An app with no definition of the type (`reads` absent) writes it untyped.
 */
function checkAppReads(id: string, current: { type: unknown; typeVersion?: unknown }, reads: AppReads | undefined): void {
  const version = current.typeVersion
  if (!reads || typeof version !== "number" || version <= reads.version || reads.newer.includes(version)) return
  const type = (current.type as { val?: string })?.val ?? String(current.type)
  throw new RefusedChangeError(
    `refused the change to ${id}: it was created at ${type} version ${version}, which this app (version ${reads.version}) has not learnt; write it again once the app has learnt it`,
  )
}

function typeName(value: unknown): string {
  assertTypeName(value)
  return value as string
}

function text(params: Record<string, unknown>, key: string): string {
  const value = params[key]
  if (typeof value !== "string" || value === "") throw new LocalPeerError(`${key} must be a non-empty string`)
  return value
}

function number(params: Record<string, unknown>, key: string): number {
  const value = params[key]
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new LocalPeerError(`${key} must be an integer`)
  return value
}

function optionalList(params: Record<string, unknown>, key: string): unknown[] {
  const value = params[key] ?? []
  if (!Array.isArray(value)) throw new LocalPeerError(`${key} must be a list`)
  return value
}

function documents(params: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const list = optionalList(params, key)
  if (list.length > MAX_DOCUMENTS) throw new LocalPeerError(`${key}: at most ${MAX_DOCUMENTS} documents in one request`)
  for (const item of list)
    if (typeof item !== "object" || item === null || Array.isArray(item)) throw new LocalPeerError(`${key} must be a list of objects`)
  return list as Record<string, unknown>[]
}

/** Query options as JSON carries them: a `where` of field values, an `orderBy` by name, a limit, includeDeleted. */
function queryOptions(value: unknown): QueryOptions<Record<string, unknown>> {
  if (value === undefined || value === null) return {}
  if (typeof value !== "object" || Array.isArray(value)) throw new LocalPeerError("options must be an object")
  const { where, orderBy, limit, includeDeleted, ...rest } = value as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length) throw new LocalPeerError(`unknown query option ${JSON.stringify(unknown[0])}`)
  if (where !== undefined && (typeof where !== "object" || where === null || Array.isArray(where)))
    throw new LocalPeerError("where must be an object of field values")
  if (orderBy !== undefined && typeof orderBy !== "string" && (typeof orderBy !== "object" || orderBy === null))
    throw new LocalPeerError("orderBy must be a field name or { by, direction }")
  if (limit !== undefined && (typeof limit !== "number" || !Number.isInteger(limit))) throw new LocalPeerError("limit must be an integer")
  return {
    ...(where !== undefined ? { where: where as Record<string, unknown> } : {}),
    ...(orderBy !== undefined ? { orderBy: orderBy as never } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(includeDeleted !== undefined ? { includeDeleted: includeDeleted === true } : {}),
  }
}
