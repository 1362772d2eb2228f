/**
 * React bindings (`@cairn/web/react`): a provider for the database or the
 * browser peer, and hooks over the live values of ../live.ts. React is an
 * optional peer dependency of @cairn/web: only this entry imports it.
 */
import { createContext, createElement, useContext, useMemo, useRef, useSyncExternalStore, type ReactNode } from "react"
import type { Database, DataOf, Doc, DocOf, QueryOptions, TypeDefinition, TypeRef } from "@cairn/core"
import type { BrowserPeer, BrowserPeerStatus } from "../BrowserPeer.js"
import { liveDocument, liveQuery, liveStatus, LiveValue, type Live } from "../live.js"

type DataOfRef<R> = R extends TypeDefinition<any> ? DataOf<R> : Record<string, unknown>

interface CairnContextValue {
  db: Database
  peer: BrowserPeer | undefined
}

const CairnContext = createContext<CairnContextValue | null>(null)

export type CairnProviderProps = { children?: ReactNode } & ({ peer: BrowserPeer; db?: undefined } | { db: Database; peer?: undefined })

/** Makes a browser peer (or just a database) available to the hooks below it. */
export function CairnProvider(props: CairnProviderProps): ReactNode {
  const { peer, db, children } = props
  const value = useMemo<CairnContextValue>(() => ({ db: peer ? peer.db : db!, peer }), [peer, db])
  return createElement(CairnContext.Provider, { value }, children)
}

function useCairn(hook: string): CairnContextValue {
  const value = useContext(CairnContext)
  if (!value) throw new Error(`${hook} needs a <CairnProvider peer={...}> (or db={...}) above it`)
  return value
}

/** The database from the nearest CairnProvider. */
export function useDatabase(): Database {
  return useCairn("useDatabase").db
}

/** The browser peer from the nearest CairnProvider (it must have been given `peer`). */
export function useBrowserPeer(): BrowserPeer {
  const { peer } = useCairn("useBrowserPeer")
  if (!peer) throw new Error("useBrowserPeer needs <CairnProvider peer={...}>; this one was given only a database")
  return peer
}

/** Any live value (see `Live`), re-rendering on every change. */
export function useLive<T>(live: Live<T>): T {
  return useSyncExternalStore(
    live.subscribe,
    () => live.value,
    () => live.value,
  )
}

/** The browser peer's status: role, server connection, sync. */
export function usePeerStatus(): BrowserPeerStatus {
  const peer = useBrowserPeer()
  const live = useMemo(() => liveStatus(peer), [peer])
  return useLive(live)
}

const NO_DOCUMENT = new LiveValue<null>(null, () => () => {})

/**
 * A document, live: `undefined` while it loads, `null` when there is none
 * with this id here (or it is deleted, or of another type), else the
 * document. It updates on every change, from this tab, another tab or
 * another peer. Pass a type definition for typed data.
 */
export function useDocument(id: string | null | undefined): Doc | null | undefined
export function useDocument<R extends TypeRef>(type: R, id: string | null | undefined): DocOf<R> | null | undefined
export function useDocument(...args: [TypeRef | string | null | undefined, (string | null | undefined)?]): Doc | null | undefined {
  const db = useDatabase()
  // Typed when a type was given, even with an id still undefined (`useDocument(Task, undefined)` while it is chosen).
  const typed = args.length >= 2
  const type = typed ? (args[0] as TypeRef) : undefined
  const id = typed ? args[1] : (args[0] as string | null | undefined)
  const name = type === undefined ? undefined : typeof type === "string" ? type : type.name
  const live = useMemo<Live<Doc | null | undefined>>(
    () => (!id ? NO_DOCUMENT : name === undefined ? liveDocument(db, id) : liveDocument(db, name, id)),
    [db, name, id],
  )
  return useLive(live)
}

/**
 * The documents of a type that match a query, live: `undefined` until the
 * first results. The query runs again when a document of the type changes
 * anywhere, or when `options` change. Functions in `options` (a `where`
 * predicate, an `orderBy` comparator) may be new on every render: the
 * latest one is used, and the query re-runs when an item of `deps` changes.
 */
export function useQuery<R extends TypeRef>(
  type: R,
  options: QueryOptions<DataOfRef<R>> = {},
  deps: readonly unknown[] = [],
): DocOf<R>[] | undefined {
  const db = useDatabase()
  const name = typeof type === "string" ? type : (type as TypeDefinition<any>).name
  const latest = useRef(options)
  latest.current = options
  const key = JSON.stringify(options, (_, value) => (typeof value === "function" ? "[function]" : value))
  // biome-ignore lint/correctness/useExhaustiveDependencies: `type` is keyed by its name and `options` by their JSON (both may be new objects on every render), plus the caller's deps
  const live = useMemo(
    () => liveQuery(db, type, withLatestFunctions(options, latest)),
    // `type` is keyed by its name and `options` by their JSON; functions are read through `latest`.
    [db, name, key, ...deps],
  )
  return useLive(live) as DocOf<R>[] | undefined
}

/** Options whose functions call the latest render's functions, so a new closure each render does not restart the query. */
function withLatestFunctions<O extends QueryOptions<any>>(options: O, latest: { current: O }): O {
  const result = { ...options }
  if (typeof options.where === "function") result.where = (doc: Doc<any>) => (latest.current.where as (doc: Doc<any>) => boolean)(doc)
  if (typeof options.orderBy === "function")
    result.orderBy = (a: Doc<any>, b: Doc<any>) => (latest.current.orderBy as (a: Doc<any>, b: Doc<any>) => number)(a, b)
  return result
}

export type { Live } from "../live.js"
