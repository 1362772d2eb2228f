/**
 * Documents whose stored copy was found damaged (a torn write, a flipped
 * bit, a deleted file): which ones, why, and what they are missing, until a
 * peer that has them sends them back.
 */
import * as A from "@automerge/automerge"
import { CairnError } from "../errors.js"

export interface DamagedDocument {
  id: string
  /** The document's type, or "unknown" when nothing readable and no catalog entry says. */
  type: string
  reason: string
  /** Heads the catalog listed before the damage was found (empty if unknown): repaired once the document has them again. */
  missing: string[]
}

/** The document's stored copy is damaged and nothing readable is left here; a peer that has it will send it back. */
export class DamagedDocumentError extends CairnError {
  constructor(
    readonly id: string,
    readonly reason: string,
  ) {
    super(`document ${id} is damaged in this peer's storage (${reason}); it is recovered when a peer that has it syncs`)
  }
}

export class DamagedDocuments {
  readonly #byId = new Map<string, DamagedDocument>()

  /** Record damage; returns false when the document was already known to be damaged. */
  note(damage: DamagedDocument): boolean {
    const known = this.#byId.get(damage.id)
    this.#byId.set(damage.id, known ? { ...damage, missing: known.missing.length ? known.missing : damage.missing } : damage)
    return !known
  }

  get(id: string): DamagedDocument | undefined {
    return this.#byId.get(id)
  }

  list(): DamagedDocument[] {
    return [...this.#byId.values()]
  }

  /**
   * A new state of the document was read from storage or arrived from a peer:
   * it is repaired if it has everything it was missing. When what it lacks is
   * unknown (`missing` empty), only a copy from a peer repairs it.
   */
  settle(id: string, doc: A.Doc<unknown>, from: "storage" | "peer"): void {
    const damage = this.#byId.get(id)
    if (!damage) return
    if (damage.missing.length === 0 && from === "storage") return
    const heads = A.getHeads(doc)
    if (heads.length > 0 && A.hasHeads(doc, damage.missing)) this.#byId.delete(id)
  }
}
