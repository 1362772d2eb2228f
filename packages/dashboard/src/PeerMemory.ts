/**
 * The peers a dashboard has seen: the replicator knows only the peers
 * connected now, but "when did my phone last sync?" is worth answering
 * after it left. Keeps the last status of each machine (the most recent
 * `limit` machines).
 */
import type { PeerStatus } from "@cairn/core"
import type { PeerView } from "./shapes.js"

export class PeerMemory {
  readonly #byMachine = new Map<string, PeerStatus>()

  constructor(private readonly limit = 50) {}

  /** A status from the replicator (connected, syncing, in sync, closed). */
  note(status: PeerStatus): void {
    const known = this.#byMachine.get(status.machineId)
    // A closed status keeps the last sync time the connection reached.
    const lastSyncAt = status.lastSyncAt ?? known?.lastSyncAt ?? null
    this.#byMachine.delete(status.machineId)
    this.#byMachine.set(status.machineId, { ...status, lastSyncAt })
    if (this.#byMachine.size > this.limit) this.#byMachine.delete(this.#byMachine.keys().next().value!)
  }

  /** Connected peers (from `current`) first, then machines seen earlier that are not connected now. */
  views(current: PeerStatus[]): PeerView[] {
    for (const status of current) if (!this.#byMachine.has(status.machineId)) this.note(status)
    const connected = new Set(current.map(s => s.machineId))
    const live: PeerView[] = current.map(status => ({
      ...status,
      lastSyncAt: status.lastSyncAt ?? this.#byMachine.get(status.machineId)?.lastSyncAt ?? null,
      connected: true,
    }))
    const gone: PeerView[] = [...this.#byMachine.values()]
      .filter(status => !connected.has(status.machineId))
      .reverse()
      .map(status => ({ ...status, state: "closed", connected: false }))
    return [...live, ...gone]
  }
}
