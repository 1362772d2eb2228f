/**
 * `cairn sync --folder DIR`: sync once through a shared folder (see
 * FolderSync in @cairn/node), and how its result reads.
 */
import { resolve } from "node:path"
import type { NodePeer, SkippedFile } from "@cairn/node"
import { UsageError } from "./errors.js"

export interface FolderSyncReport {
  folder: string
  sent: number
  received: number
  purged: number
  /** Documents of the synced types here afterwards. */
  documents: number
  applied: number
  written: number
  skipped: SkippedFile[]
  refused: { id: string; type: string; reason: string }[]
  quarantined: { id: string; type: string; reason: string }[]
  /** Always empty: nobody answers through a folder (kept so a folder sync reads like any sync). */
  denied: never[]
}

export async function syncThroughFolder(peer: NodePeer, dir: string, args: string[]): Promise<FolderSyncReport> {
  if (args.length > 0) throw new UsageError("cairn sync takes a URL or --folder DIR, not both")
  const quarantined: FolderSyncReport["quarantined"] = []
  const stop = peer.db.on("quarantine", document => quarantined.push(document))
  try {
    const folder = await peer.syncFolder(resolve(dir))
    const result = await folder.sync()
    const wants = peer.replicator.wants
    const documents = peer.db
      .types()
      .filter(t => wants === "*" || wants.includes(t.type))
      .reduce((n, t) => n + t.count, 0)
    return {
      folder: folder.dir,
      sent: result.sent,
      received: result.received,
      purged: result.purged,
      documents,
      applied: result.applied.length,
      written: result.written.length,
      skipped: result.skipped,
      refused: result.refused,
      quarantined,
      denied: [],
    }
  } finally {
    stop()
  }
}

export function folderSyncLine(r: FolderSyncReport): string {
  return [
    `synced through ${r.folder}: applied ${r.applied} file(s) (received ${r.received}, purged ${r.purged}), wrote ${r.written} (sent ${r.sent}); ${r.documents} documents here`,
    ...r.skipped.map(file => `not applied yet: ${file.path}: ${file.reason}`),
    ...r.refused.map(doc => `refused changes to ${doc.id} (${doc.type}): ${doc.reason}`),
  ].join("\n")
}

/** The folders a running peer syncs through, as rows of `cairn peers` (the machines behind them are in the trust list). */
export function folderLinks(peer: NodePeer) {
  return peer.folders().map(folder => {
    const status = folder.status()
    return {
      machineId: "(folder)",
      publicKey: null,
      name: status.dir,
      read: peer.replicator.wants,
      write: peer.replicator.wants,
      lastSeen: status.lastSyncAt,
      connected: status.running,
      transport: status.transport,
    }
  })
}
