/**
 * `db.change` calls made together (in one turn of the event loop) on the
 * same document become one transaction, in which each is still its own
 * Automerge change that stands or fails alone. Typing makes a change per
 * keystroke, and an editor keeps many in flight: each one handed to the repo
 * on its own cost more than the edit (automerge-repo's handle hashes the
 * heads, diffs and emits for every new state), and each its own save round.
 * Together, the repo sees the document once, with every change in it, and
 * every caller's promise resolves (or rejects, for a change that failed)
 * once the whole series is on disk.
 *
 * Order is kept: the changes of a series apply in the order they were made,
 * and any other write the app starts first sends the waiting series on
 * ahead of it (see `flush`).
 */
import type { Transaction, TypeRef } from "./Transaction.js"

interface Part {
  type: TypeRef | undefined
  mutate: (draft: any) => void
  message: string | undefined
  resolve(): void
  reject(error: unknown): void
}

export class ChangeSeries {
  #waiting = new Map<string, Part[]>()
  #scheduled = false

  /** `begin` starts a transaction. */
  constructor(private readonly begin: () => Transaction) {}

  /** Queue a change; resolves when it is on disk, rejects with its own error (or the series'). */
  add(type: TypeRef | undefined, id: string, mutate: (draft: any) => void, message?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const parts = this.#waiting.get(id)
      const part = { type, mutate, message, resolve, reject }
      if (parts) parts.push(part)
      else this.#waiting.set(id, [part])
      if (this.#scheduled) return
      this.#scheduled = true
      queueMicrotask(() => this.flush())
    })
  }

  /** Start committing every waiting change now (before a write that must come after them). */
  flush(): void {
    this.#scheduled = false
    if (this.#waiting.size === 0) return
    const waiting = this.#waiting
    this.#waiting = new Map()
    for (const [id, parts] of waiting) this.#commit(id, parts)
  }

  #commit(id: string, parts: Part[]): void {
    const failed = new Set<Part>()
    let committed: Promise<void>
    try {
      const tx = this.begin()
      for (const part of parts) {
        const fail = (error: unknown) => {
          failed.add(part)
          part.reject(error)
        }
        tx.changeAlone(part.type, id, part.mutate, { message: part.message, fail })
      }
      committed = tx.commit()
    } catch (error) {
      committed = Promise.reject(error)
    }
    committed.then(
      () => parts.forEach(part => failed.has(part) || part.resolve()),
      error => parts.forEach(part => failed.has(part) || part.reject(error)),
    )
  }
}
