/**
 * A Repo, the database over it and its replicator, wired the way the Node
 * peer wires them: automerge-repo asks the replicator which documents each
 * peer may have (by type, from the catalog).
 */
import { Repo, type PeerId, type StorageAdapterInterface } from "@automerge/automerge-repo"
import { Database, Replicator, type MachineIdentity, type TypeDefinition, type TypeSelection } from "@cairn/core"

export interface Replicated {
  repo: Repo
  db: Database
  /** Replicates with every peer that has no replicator of its own in `perPeer`. */
  replicator: Replicator
  /** Peers with a replicator of their own (see wireReplicatorPerPeer); automerge-repo asks theirs about them. */
  perPeer: Map<string, Replicator>
}

export async function openReplicated(options: {
  machine: MachineIdentity
  /** Without storage, the database lives in memory (a follower tab). */
  storage?: StorageAdapterInterface
  types: TypeDefinition<any>[]
  wants: TypeSelection
  log: (message: string) => void
}): Promise<Replicated> {
  const peerId = `${options.machine.machineId}-${Math.random().toString(36).slice(2, 10)}` as PeerId
  let replicator: Replicator | undefined
  const perPeer = new Map<string, Replicator>()
  const replicatorOf = (peer: string) => perPeer.get(peer) ?? replicator
  const repo = new Repo({
    ...(options.storage ? { storage: options.storage } : {}),
    network: [],
    peerId,
    shareConfig: {
      announce: (peer, doc) => replicatorOf(peer)?.shareConfig().announce(peer, doc) ?? Promise.resolve(false),
      access: (peer, doc) => replicatorOf(peer)?.shareConfig().access(peer, doc) ?? Promise.resolve(false),
    },
  })
  const db = await Database.open({ repo, machine: options.machine, types: options.types, ...(options.storage ? { storage: options.storage } : {}) })
  replicator = new Replicator(db, {
    wants: options.wants,
    ...(options.storage ? { storage: options.storage } : {}),
    onProtocolError: (peer, reason) => options.log(`peer ${peer}: ${reason}`),
    onStall: (peer, reason) => options.log(`sync with peer ${peer}: ${reason}`),
  })
  return { repo, db, replicator, perPeer }
}
