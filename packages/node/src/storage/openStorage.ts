/**
 * The storage a Node peer uses for its documents, catalog and checkpoints.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

export async function openStorage(path: string): Promise<StorageAdapterInterface & { close?: () => Promise<void> }> {
  return new NodeFSStorage(path)
}

/**
 * nodefs, except that `loadRange([])` lists every key (nodefs 2.5.6 throws a
 * TypeError on the empty prefix). Rebuilding a lost or damaged catalog needs
 * that listing: without it a peer whose catalog was torn by a crash could not
 * open at all.
 */
class NodeFSStorage extends NodeFSStorageAdapter {
  override loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    // nodefs maps [""] to its base directory and turns every file under it back into its key.
    return super.loadRange(keyPrefix.length === 0 ? [""] : keyPrefix)
  }
}
