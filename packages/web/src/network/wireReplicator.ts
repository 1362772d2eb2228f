/**
 * Hands a Cairn network adapter's peers and control messages to the
 * replicator, as the Node peer's PeerNetwork does: a peer that finished
 * its handshake with usable replication info starts a replication
 * session; one that left ends it.
 */
import type { PeerId } from "@automerge/automerge-repo"
import { PROTOCOL_VERSION, type ControlMessage, type ReplicationInfo, type Replicator } from "@cairn/core"
import type { CairnNetworkAdapter, ControlEvent, PeerEvent } from "@cairn/core/network"

/** What a peer's hello or welcome must contain to be understood. */
export function replicationInfoOf(info: unknown): ReplicationInfo | undefined {
  const i = info as Partial<ReplicationInfo> | undefined
  if (!i || i.protocol !== PROTOCOL_VERSION || typeof i.machineId !== "string") return undefined
  if (i.wants !== "*" && !(Array.isArray(i.wants) && i.wants.every(t => typeof t === "string"))) return undefined
  return i as ReplicationInfo
}

/** Start and stop replication sessions as the adapter's peers come and go. Returns the function that unwires. */
export function wireReplicator(adapter: CairnNetworkAdapter<any>, replicator: Replicator, log: (message: string) => void): () => void {
  const onPeer = (event: PeerEvent) => {
    if (event.state !== "connected") return replicator.disconnected(event.peerId, event.connectionId)
    const info = replicationInfoOf(event.info)
    if (!info) return log(`peer ${event.peerId} sent no usable replication info; not syncing with it`)
    replicator.connected({
      peerId: event.peerId,
      info,
      connectionId: event.connectionId,
      send: (message: ControlMessage) => adapter.sendControl(event.peerId as PeerId, message),
      whenDrained: () => adapter.whenDrained(event.peerId as PeerId),
    })
  }
  const onControl = (event: ControlEvent) => replicator.receive(event.peerId, event.message)
  adapter.on("peer", onPeer)
  adapter.on("control", onControl)
  return () => {
    adapter.off("peer", onPeer)
    adapter.off("control", onControl)
  }
}

/**
 * Like `wireReplicator`, but each peer gets a replicator of its own, made
 * when it connects and closed when it leaves, kept in `sessions` by peer id.
 * For the tab links: every tab of a browser has the same machine id, and
 * replication keeps one checkpoint per machine id, so follower tabs (each
 * with its own in-memory catalog) sharing one replicator would overwrite
 * each other's checkpoints and turn every pull into a full listing.
 */
export function wireReplicatorPerPeer(
  adapter: CairnNetworkAdapter<any>,
  create: () => Replicator,
  sessions: Map<string, Replicator>,
  log: (message: string) => void,
): () => void {
  const end = (peerId: string) => {
    const replicator = sessions.get(peerId)
    if (!replicator) return
    sessions.delete(peerId)
    replicator.disconnected(peerId)
    replicator.close()
  }
  const onPeer = (event: PeerEvent) => {
    end(event.peerId)
    if (event.state !== "connected") return
    const info = replicationInfoOf(event.info)
    if (!info) return log(`peer ${event.peerId} sent no usable replication info; not syncing with it`)
    const replicator = create()
    sessions.set(event.peerId, replicator)
    replicator.connected({
      peerId: event.peerId,
      info,
      send: (message: ControlMessage) => adapter.sendControl(event.peerId as PeerId, message),
    })
  }
  const onControl = (event: ControlEvent) => sessions.get(event.peerId)?.receive(event.peerId, event.message)
  adapter.on("peer", onPeer)
  adapter.on("control", onControl)
  return () => {
    adapter.off("peer", onPeer)
    adapter.off("control", onControl)
    for (const peerId of [...sessions.keys()]) end(peerId)
  }
}
