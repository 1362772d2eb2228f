/**
 * A property test of folder sync, in the spirit of the transport
 * conformance suite (which is for message transports; a folder is not one).
 * fast-check draws two or three peers, each with a folder of its own
 * (the copy a folder tool keeps on that machine), each wanting every type or
 * only tasks, how soon each compacts its files, and a sequence of steps:
 * create a document, change it, delete it, purge it (on one peer), sync one
 * peer through its folder, and copy one machine's files from its folder into
 * another's as a folder tool does: some of them, in any order, the last one
 * maybe only half (finished by a later copy), removing those its writer removed.
 *
 * What must hold once everything is copied everywhere and every peer has
 * synced twice: every peer holds exactly the documents of the types it wants that
 * were created and not purged (and never one of a type it does not want),
 * with the same heads and deletion everywhere, the title one of the values
 * written; a purged document is purged wherever its type goes.
 *
 * CAIRN_PROPERTY_RUNS sequences (default 20), from CAIRN_PROPERTY_SEED.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { headsKey, type TypeSelection } from "@cairn/core"
import type { FolderSync, NodePeer } from "../../src/index.js"
import { Note, openPeer, Task, tempDir, trustEachOther } from "./helpers.js"

type Step =
  | { t: "create"; peer: number; type: "task" | "note"; title: string }
  | { t: "change"; peer: number; doc: number; title: string }
  | { t: "delete"; peer: number; doc: number }
  | { t: "purge"; peer: number; doc: number }
  | { t: "sync"; peer: number }
  | { t: "copy"; writer: number; reader: number; pick: number; half: boolean }

const title = fc.constantFrom("a", "b", "c", "d")
const step = (peers: number): fc.Arbitrary<Step> => {
  const peer = fc.integer({ min: 0, max: peers - 1 })
  const doc = fc.nat(20)
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ t: fc.constant("create" as const), peer, type: fc.constantFrom("task" as const, "note" as const), title }),
    },
    { weight: 3, arbitrary: fc.record({ t: fc.constant("change" as const), peer, doc, title }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("delete" as const), peer, doc }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("purge" as const), peer, doc }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant("sync" as const), peer }) },
    {
      weight: 4,
      arbitrary: fc.record({ t: fc.constant("copy" as const), writer: peer, reader: peer, pick: fc.nat(255), half: fc.boolean() }),
    },
  )
}
const setup = fc.integer({ min: 2, max: 3 }).chain(n =>
  fc.record({
    wants: fc.array(fc.constantFrom<TypeSelection>("*", ["task"]), { minLength: n, maxLength: n }),
    maxFiles: fc.array(fc.integer({ min: 2, max: 6 }), { minLength: n, maxLength: n }),
    steps: fc.array(step(n), { minLength: 5, maxLength: 50 }),
  }),
)

interface ModelDoc {
  id: string
  type: "task" | "note"
  titles: Set<string>
  purged: boolean
}

/**
 * Copy the sync files `writer` has written in its folder into `to`: those
 * that differ there, picked by the bits of `pick` (all with -1), in a
 * shuffled order, the last one only half when `half`; removing from `to`
 * those the writer removed.
 */
async function copyFiles(from: string, to: string, writer: string, pick: number, half: boolean): Promise<void> {
  const differing: string[] = []
  for (const type of await readdir(from).catch(() => [])) {
    const dir = join(type, writer)
    const present = new Set(await readdir(join(from, dir)).catch(() => []))
    for (const name of present) {
      if (!name.endsWith(".cairn")) continue
      const [source, target] = await Promise.all([readFile(join(from, dir, name)), readFile(join(to, dir, name)).catch(() => undefined)])
      if (!target || !source.equals(target)) differing.push(join(dir, name))
    }
    for (const name of await readdir(join(to, dir)).catch(() => []))
      if (name.endsWith(".cairn") && !present.has(name)) await rm(join(to, dir, name))
  }
  // Shuffled by `pick`: a folder tool copies files in no particular order.
  const order = (file: string) => [...`${pick}${file}`].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7)
  const picked = differing.filter((_, i) => pick === -1 || (pick >> (i % 8)) & 1).sort((a, b) => order(a) - order(b))
  for (const [i, file] of picked.entries()) {
    const bytes = await readFile(join(from, file))
    await mkdir(dirname(join(to, file)), { recursive: true })
    await writeFile(join(to, file), half && i === picked.length - 1 ? bytes.subarray(0, bytes.byteLength >> 1) : bytes)
  }
}

async function runCase({ wants, maxFiles, steps }: { wants: TypeSelection[]; maxFiles: number[]; steps: Step[] }): Promise<void> {
  const peers: NodePeer[] = []
  for (const want of wants) peers.push(await openPeer({ wants: want }))
  await trustEachOther(peers)
  const folders: string[] = []
  const syncs: FolderSync[] = []
  for (const [i, peer] of peers.entries()) {
    folders.push(await tempDir())
    syncs.push(await peer.syncFolder(folders[i]!, { maxFiles: maxFiles[i]! }))
  }
  const copyEverywhere = async () => {
    for (const [w, writer] of peers.entries())
      for (const r of peers.keys()) if (r !== w) await copyFiles(folders[w]!, folders[r]!, writer.machineId, -1, false)
  }
  const model: ModelDoc[] = []
  /** The n-th document (modulo) that `peer` holds, not purged, and may change. */
  const held = (peer: NodePeer, n: number, live: boolean) => {
    const docs = model.filter(doc => {
      const entry = peer.db.catalog.get(doc.id)
      return entry && !entry.purged && !entry.quarantined && (!live || entry.deletedAt === null)
    })
    return docs.length === 0 ? undefined : docs[n % docs.length]
  }
  for (const s of steps) {
    if (s.t === "copy") {
      if (s.writer !== s.reader) await copyFiles(folders[s.writer]!, folders[s.reader]!, peers[s.writer]!.machineId, s.pick, s.half)
      continue
    }
    const peer = peers[s.peer]!
    if (s.t === "create") {
      // A peer makes documents of the types it keeps (one it does not want would never leave it).
      const type = wants[s.peer] === "*" ? s.type : "task"
      const doc = type === "task" ? await peer.db.create(Task, { title: s.title }) : await peer.db.create(Note, { body: s.title })
      model.push({ id: doc.id, type, titles: new Set([s.title]), purged: false })
    } else if (s.t === "change") {
      const doc = held(peer, s.doc, true)
      if (!doc) continue
      if (doc.type === "task") await peer.db.change(Task, doc.id, draft => void (draft.title = s.title))
      else await peer.db.change(Note, doc.id, draft => void draft.body.splice(0, draft.body.length, s.title))
      doc.titles.add(s.title)
    } else if (s.t === "delete") {
      const doc = held(peer, s.doc, true)
      if (doc) await peer.db.delete(doc.id)
    } else if (s.t === "purge") {
      const doc = held(peer, s.doc, false)
      if (!doc) continue
      await peer.db.purge(doc.id)
      doc.purged = true
    } else {
      await syncs[s.peer]!.sync()
    }
  }
  for (let round = 0; round < 2; round++) {
    for (const sync of syncs) await sync.sync()
    await copyEverywhere()
  }
  for (const sync of syncs) await sync.sync()

  for (const doc of model) {
    const holders = peers.filter((_, i) => wants[i] === "*" || (wants[i] as string[]).includes(doc.type))
    const entries = holders.map(peer => peer.db.catalog.get(doc.id))
    for (const [i, peer] of peers.entries())
      if (!holders.includes(peer)) expect(peer.db.catalog.get(doc.id), `peer ${i} does not want ${doc.type}`).toBeUndefined()
    if (doc.purged) {
      for (const entry of entries) expect(entry?.purged, `${doc.id} purged everywhere`).toBe(true)
      continue
    }
    for (const entry of entries) {
      expect(entry, `${doc.id} everywhere its type goes`).toBeDefined()
      expect(entry!.purged).toBeUndefined()
      expect(headsKey(entry!.heads)).toBe(headsKey(entries[0]!.heads))
      expect(entry!.deletedAt === null).toBe(entries[0]!.deletedAt === null)
    }
    const live = holders[entries.findIndex(entry => entry!.deletedAt === null)]
    if (live) {
      const got = await live.db.get(doc.id)
      const text = doc.type === "task" ? (got.data as { title: string }).title : String((got.data as { body: string }).body)
      expect(doc.titles.has(text), `${JSON.stringify(text)} was written to ${doc.id}`).toBe(true)
    }
  }
  for (const [i, peer] of peers.entries()) {
    const expected = model.filter(doc => wants[i] === "*" || doc.type === "task").length
    expect(peer.db.catalog.size, `peer ${i} holds only the documents made`).toBe(expected)
  }
}

describe("folder sync (property)", () => {
  it("peers whose folders are copied in part, out of order and half-way, with compaction, converge to the model", {
    timeout: 300_000,
  }, async () => {
    const runs = Number(process.env.CAIRN_PROPERTY_RUNS ?? 20)
    const seed = process.env.CAIRN_PROPERTY_SEED === undefined ? 16_3 : Number(process.env.CAIRN_PROPERTY_SEED)
    await fc.assert(
      fc.asyncProperty(setup, async drawn => runCase(drawn)),
      { numRuns: runs, seed, endOnFailure: false, interruptAfterTimeLimit: 240_000 },
    )
  })
})
