/**
 * The storage a Node peer uses for its documents, catalog and checkpoints.
 */
import type { StorageAdapterInterface } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

export async function openStorage(path: string): Promise<StorageAdapterInterface & { close?: () => Promise<void> }> {
  return new NodeFSStorageAdapter(path)
}
