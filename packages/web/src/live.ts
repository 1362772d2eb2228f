/**
 * Live values for any UI framework: a document, a query's results, or a
 * peer's status, each a `Live` (core's one shape for live results: `value`
 * and `subscribe`; see ./react for React). The database is subscribed to
 * only while someone listens.
 */
import {
  LiveValue,
  type Database,
  type DataOf,
  type Doc,
  type DocOf,
  type Live,
  type QueryOptions,
  type TypeDefinition,
  type TypeRef,
} from "@cairn/core"
import type { BrowserPeer, BrowserPeerStatus } from "./BrowserPeer.js"

export { LiveValue, type Live } from "@cairn/core"

type DataOfRef<R> = R extends TypeDefinition<any> ? DataOf<R> : Record<string, unknown>

/**
 * A document, live: `undefined` while it loads, `null` when there is no
 * such document here (yet: it appears when replication brings it), it is
 * deleted, or it is of another type than the one given.
 */
export function liveDocument(db: Database, id: string): Live<Doc | null | undefined>
export function liveDocument<R extends TypeRef>(db: Database, type: R, id: string): Live<DocOf<R> | null | undefined>
export function liveDocument(db: Database, typeOrId: TypeRef | string, maybeId?: string): Live<Doc | null | undefined> {
  const [type, id] = maybeId === undefined ? [undefined, typeOrId as string] : [typeName(typeOrId as TypeRef), maybeId]
  return new LiveValue<Doc | null | undefined>(undefined, set =>
    db.subscribe(id, doc => set(doc && (type === undefined || doc.type === type) ? doc : null)),
  )
}

/**
 * A query's results, live: `undefined` until the first results, then the
 * documents of the type that match, again whenever one of that type
 * changes here, in another tab or on another peer.
 */
export function liveQuery<R extends TypeRef>(
  db: Database,
  type: R,
  options: QueryOptions<DataOfRef<R>> = {},
): Live<DocOf<R>[] | undefined> {
  return new LiveValue<DocOf<R>[] | undefined>(undefined, set =>
    db.liveQuery(type, options as QueryOptions<any>, docs => set(docs as DocOf<R>[])),
  )
}

/** A browser peer's status, live. */
export function liveStatus(peer: BrowserPeer): Live<BrowserPeerStatus> {
  return peer.live
}

function typeName(type: TypeRef): string {
  return typeof type === "string" ? type : type.name
}
