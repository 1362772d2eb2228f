/**
 * Checkpoints: for each peer machine, the highest change of its catalog we
 * hold everything up to. Kept in storage beside the catalog, so a restart
 * does not turn the next reconnect into a full comparison.
 */
import type { StorageAdapterInterface } from "@automerge/automerge-repo"
import type { Checkpoint } from "./protocol.js"

const PREFIX = "cairn-sync"
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class CheckpointStore {
  readonly #memory = new Map<string, Checkpoint & { scope: string }>()

  constructor(private readonly storage: StorageAdapterInterface | undefined) {}

  /**
   * The checkpoint of a peer machine, if we have one for the same `scope`
   * (the set of types we pull from it: if that changed, older documents of
   * newly wanted types were never pulled, so start over).
   */
  async get(machineId: string, scope: string): Promise<Checkpoint | null> {
    let stored = this.#memory.get(machineId)
    if (!stored && this.storage) {
      const bytes = await this.storage.load([PREFIX, machineId])
      if (bytes) {
        try {
          stored = JSON.parse(decoder.decode(bytes))
        } catch {
          stored = undefined
        }
      }
    }
    if (!stored || stored.scope !== scope || typeof stored.epoch !== "string" || typeof stored.seq !== "number") return null
    return { epoch: stored.epoch, seq: stored.seq }
  }

  /** Remember that we hold everything of `machineId`'s catalog up to `checkpoint`. */
  async set(machineId: string, scope: string, checkpoint: Checkpoint): Promise<void> {
    const record = { ...checkpoint, scope }
    this.#memory.set(machineId, record)
    await this.storage?.save([PREFIX, machineId], encoder.encode(JSON.stringify(record)))
  }
}
