/**
 * Ephemeral messages about one document (a cursor, a selection) between the
 * peers that have it open: automerge-repo's ephemeral messages, which go only
 * to peers the document is shared with, so grants apply as to the document
 * itself (the inbound gate, Replicator.admitRepoMessage, passes one only from
 * a machine that may read the document, and no larger than
 * MAX_EPHEMERAL_BYTES). Never stored.
 */
import type { DocHandle } from "@automerge/automerge-repo"
import * as cbor from "cbor-x"
import { PresenceError } from "../errors.js"

/** The largest ephemeral message sent or accepted, encoded. */
export const MAX_EPHEMERAL_BYTES = 4096

export interface DocumentChannel {
  /** Send `message` (JSON-like, at most MAX_EPHEMERAL_BYTES encoded) to the peers that have the document open. */
  send(message: unknown): void
  /** Messages from other peers about the document, with the machine that sent each; returns the function that stops. */
  subscribe(fn: (message: unknown, from: { machineId?: string }) => void): () => void
  /** Stop watching the document (it no longer syncs live for this channel). */
  close(): void
}

export interface ChannelSource {
  /** The document's handle, loaded. */
  load(id: string): Promise<DocHandle<unknown>>
  /** Watch the document (it syncs live with the peers that may read it); returns the function that stops. */
  watch(id: string): () => void
  /** The machine behind a connection's peer id, if connected. */
  machineOf(peerId: string): string | undefined
}

export async function openDocumentChannel(source: ChannelSource, id: string): Promise<DocumentChannel> {
  const unwatch = source.watch(id)
  let handle: DocHandle<unknown>
  try {
    handle = await source.load(id)
  } catch (error) {
    unwatch()
    throw error
  }
  const listeners = new Set<(payload: { senderId: string; message: unknown }) => void>()
  return {
    send(message) {
      if (cbor.encode(message).length > MAX_EPHEMERAL_BYTES)
        throw new PresenceError(`an ephemeral message is at most ${MAX_EPHEMERAL_BYTES} bytes encoded`)
      handle.broadcast(message)
    },
    subscribe(fn) {
      const listener = ({ senderId, message }: { senderId: string; message: unknown }) => {
        const machineId = source.machineOf(senderId)
        fn(message, machineId ? { machineId } : {})
      }
      listeners.add(listener)
      handle.on("ephemeral-message", listener)
      return () => {
        listeners.delete(listener)
        handle.off("ephemeral-message", listener)
      }
    },
    close() {
      for (const listener of listeners) handle.off("ephemeral-message", listener)
      listeners.clear()
      unwatch()
    },
  }
}
