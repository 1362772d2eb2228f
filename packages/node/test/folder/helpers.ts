import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach } from "vitest"
import { defineType, f } from "@cairn/core"
import { NodePeer, type NodePeerOptions } from "../../src/index.js"

export const Task = defineType("task", { fields: { title: f.string(), done: f.boolean().default(false) } })
export const Note = defineType("note", { fields: { body: f.text() } })

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

export async function tempDir(prefix = "cairn-folder-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A peer on a fresh (or given) data directory, closed after the test. */
export async function openPeer(options: Partial<NodePeerOptions> = {}): Promise<NodePeer> {
  // These tests look at the folder's exact layout and documents: no definitions published as documents (they are ordinary
  // documents to a folder; publishing is tested in packages/core/test/publishOnOpen.test.ts).
  const peer = await NodePeer.open({
    dir: options.dir ?? (await tempDir("cairn-peer-")),
    types: [Task, Note],
    publishDefinitions: false,
    ...options,
  })
  cleanup.push(() => peer.close())
  return peer
}

/** Each peer trusts each other one to read and write everything. */
export async function trustEachOther(peers: NodePeer[], write: "*" | string[] = "*"): Promise<void> {
  for (const peer of peers)
    for (const other of peers) if (other !== peer) await peer.trust.trust(other.db.machine.publicKey, { read: "*", write })
}
