/**
 * Following documents as they change: the events a subscription or a live
 * query listens to, and `db.subscribe` (one document, read again after every
 * change, the latest read only delivered).
 */
import type { Doc } from "../document/Document.js"
import type { Emitter } from "../helpers/Emitter.js"
import type { StoreEvents } from "./DocumentStore.js"

/** Call `changed` with the id of every document that `matches` as it changes or is quarantined; returns the function that stops. */
export function followDocuments(
  events: Emitter<StoreEvents>,
  matches: (event: { id: string; type: string }) => boolean,
  changed: (id: string) => void,
): () => void {
  const stopChanges = events.on("change", event => matches(event) && changed(event.id))
  // A quarantined document must drop out at once.
  const stopQuarantine = events.on("quarantine", event => matches(event) && changed(event.id))
  return () => {
    stopChanges()
    stopQuarantine()
  }
}

export interface SubscriptionSource {
  events: Emitter<StoreEvents>
  /** False once the document is deleted, purged or quarantined (isVisible). */
  visible(id: string): boolean
  get(id: string): Promise<Doc>
  /** Keep the document synced live while subscribed (Replica.watch); returns the function that stops. */
  watch(id: string): () => void
}

/** See Database.subscribe. */
export function subscribeDocument(source: SubscriptionSource, id: string, listener: (doc: Doc | undefined) => void): () => void {
  let active = true
  let generation = 0
  const push = () => {
    const mine = ++generation
    // Reads can finish out of order: only the latest may call the listener, and none after unsubscribing.
    const deliver = (doc: Doc | undefined) => {
      if (active && mine === generation) listener(doc)
    }
    if (!source.visible(id)) return deliver(undefined)
    source.get(id).then(deliver, () => deliver(undefined))
  }
  push()
  const stop = followDocuments(source.events, event => event.id === id, push)
  const unwatch = source.watch(id)
  return () => {
    if (!active) return
    active = false
    stop()
    unwatch()
  }
}
