/**
 * What a peer session and its two lanes (ServingLane, PullingLane) work
 * with: the transport's side of the peer, the local side of replication,
 * and the rules of what may go which way.
 */
import type { Catalog, CatalogEntry } from "../catalog/Catalog.js"
import type { CheckpointStore } from "./CheckpointStore.js"
import type { ControlMessage, DocsEntry, Grants, ReplicationInfo, TypeSelection } from "./protocol.js"

/** The transport's side of a connected peer. */
export interface PeerLink {
  /** The automerge-repo peer id of the connection. */
  peerId: string
  /** What the peer said about itself in its handshake. */
  info: ReplicationInfo
  /** Send a control message to the peer. */
  send(message: ControlMessage): void
  /** What the peer may read and write here, as its connection was admitted; default: everything. */
  grants?: Grants
  /** How the connection is carried ("ws", "tcp"), where the runtime says. */
  transport?: string
  /** The connection this session belongs to (see `RemotePeer.connectionId`). */
  connectionId?: number
  /** Resolves when the connection can take more; producers of many messages await it between them. */
  whenDrained?(): Promise<void>
}

/** The local side of replication a session uses (the database's Replica). */
export interface SessionReplica {
  /** The catalog served from and compared against. */
  readonly catalog: Pick<Catalog, "get" | "entries" | "changedSince" | "epoch" | "durableSeq">
  /** Resolves when every acknowledged write so far is on disk (so `catalog.durableSeq` covers it). */
  flush(): Promise<void>
  /** Apply documents the peer sent; a document of a type `acceptType` refuses is not stored, one `refuse` is told of is not changed. */
  ingest(docs: DocsEntry[], acceptType: (type: string) => boolean, refuse: (id: string, reason: string) => void): Promise<unknown>
  /** Apply a purge tombstone the peer sent. */
  applyTombstone(tombstone: CatalogEntry): void
  /** A document's changes since `have` with the vouches for them (see Replica.documentFor), or undefined. */
  documentFor(id: string, have: string[]): Promise<{ bytes: Uint8Array; vouches: Uint8Array[] } | undefined>
  /** A document's changes since `have` (all of it when `have` is empty), or undefined when nothing readable is here. */
  bytesFor(id: string, have: string[]): Promise<Uint8Array | undefined>
  /** True when the copy here already contains all of `heads`. */
  hasHeads(entry: CatalogEntry, heads: string[]): Promise<boolean>
}

export interface SessionSettings {
  /** Documents per `want`; at most four wants are outstanding. */
  batchSize: number
  /** How long a pull may go without progress before it is reported (and, when it waits on the peer, retried). */
  stallMs: number
}

/** What the session gives each of its lanes. */
export interface LaneContext {
  link: PeerLink
  grants: Grants
  replica: SessionReplica
  settings: SessionSettings
  checkpoints: CheckpointStore
  /** The types this peer keeps. */
  wants: TypeSelection
  /** May the peer receive documents of `type` from us? */
  sends(type: string): boolean
  /** Do we take documents of `type` from the peer? */
  accepts(type: string): boolean
  /** We hold this id, and the peer may not know it. */
  hides(id: string): boolean
  /** Send a message; false when the connection is going away. */
  send(message: ControlMessage): boolean
  closed(): boolean
  /**
   * Documents the peer said it holds (in its offers), with those heads
   * (sorted, joined). Serving its pull skips a document whose heads here
   * are the same: after an initial sync, offering back the 1,000 documents
   * it just sent us would move their ids and heads again (about 100 bytes
   * each) for the peer to find it has them all.
   */
  peerHas: Map<string, string>
}
