/**
 * Live values for any UI framework: a document, a query's results, or a
 * peer's status, each as an object with `value` and `subscribe`. That is
 * Svelte's store contract as it is, what React's `useSyncExternalStore`
 * needs (see ./react), and a few lines for Vue, Solid or plain DOM code.
 * The database is subscribed to only while someone listens.
 */
import type { Database, DataOf, Doc, DocOf, QueryOptions, TypeDefinition, TypeRef } from "@cairn/core"
import type { BrowserPeer, BrowserPeerStatus } from "./BrowserPeer.js"

/** A value that changes over time. */
export interface Live<T> {
  /** The latest value. */
  readonly value: T
  /** Call `listener` with the value now and after every change. Returns the function that stops it. */
  subscribe(listener: (value: T) => void): () => void
}

type DataOfRef<R> = R extends TypeDefinition<any> ? DataOf<R> : Record<string, unknown>

/**
 * A live value that starts its source when the first listener subscribes
 * and stops it when the last one leaves.
 */
export class LiveValue<T> implements Live<T> {
  #value: T
  readonly #listeners = new Set<(value: T) => void>()
  readonly #start: (set: (value: T) => void) => () => void
  #stop: (() => void) | undefined

  /** `start` begins watching the source, reporting values through `set`, and returns the function that stops watching. */
  constructor(initial: T, start: (set: (value: T) => void) => () => void) {
    this.#value = initial
    this.#start = start
  }

  get value(): T {
    return this.#value
  }

  readonly subscribe = (listener: (value: T) => void): (() => void) => {
    this.#listeners.add(listener)
    if (this.#listeners.size === 1) this.#stop = this.#start(value => this.#set(value))
    listener(this.#value)
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return
      const stop = this.#stop
      this.#stop = undefined
      stop?.()
    }
  }

  #set(value: T): void {
    if (Object.is(value, this.#value)) return
    this.#value = value
    for (const listener of [...this.#listeners]) listener(value)
  }
}

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
export function liveQuery<R extends TypeRef>(db: Database, type: R, options: QueryOptions<DataOfRef<R>> = {}): Live<DocOf<R>[] | undefined> {
  return new LiveValue<DocOf<R>[] | undefined>(undefined, set => db.liveQuery(type, options as QueryOptions<any>, docs => set(docs as DocOf<R>[])))
}

/** A browser peer's status, live. */
export function liveStatus(peer: BrowserPeer): Live<BrowserPeerStatus> {
  return new LiveValue<BrowserPeerStatus>(peer.status, set => peer.onStatus(set))
}

function typeName(type: TypeRef): string {
  return typeof type === "string" ? type : type.name
}
