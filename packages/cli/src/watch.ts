/** `cairn watch`: every change to the documents of a type (or of any), as JSON lines. */
import type { AppDatabase } from "@cairn/core"

/**
 * Call `emit` with a JSON-ready value for every change (local or remote) to a document of `type` (or any): the
 * document as it is now, with where the change came from; a deleted or purged one as what is left of it.
 */
export function watchChanges(db: AppDatabase, type: string | undefined, emit: (value: unknown) => void): () => void {
  return db.on("change", ({ id, type: changedType, origin, entry }) => {
    if (type && changedType !== type) return
    if (entry.purged || entry.deletedAt !== null)
      return emit({ id, type: changedType, origin, deletedAt: entry.deletedAt, purged: entry.purged ?? false })
    db.get(id).then(
      doc => emit({ ...doc, origin }),
      () => {},
    )
  })
}
