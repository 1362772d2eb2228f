// Damaged storage: a peer's documents and catalog are damaged on disk while
// it is closed (bytes flipped, files cut short, the catalog deleted); it must
// still open, say which documents are damaged, rebuild its catalog when that
// was hit, keep every healthy document exactly as it was, and get the
// damaged ones back from a peer when it syncs.
//
// The damage is aimed at whatever storage NodePeer uses: the bytes of a
// document's chunks (and of the catalog's records) are read through the same
// storage adapter (openStorage) and then found in the files under
// <dir>/store, so this works for one file per chunk (nodefs) and for a log
// of records alike. Cutting a file short in a log also cuts every record
// after it: a torn tail, which must be survived the same way.
import { setTimeout as sleep } from "node:timers/promises"
import { mkdtemp, open, readdir, readFile, rm, truncate, unlink } from "node:fs/promises"

import { tmpdir } from "node:os"
import { join } from "node:path"
import * as A from "@automerge/automerge"
import { NodePeer } from "@cairn/node"
import { Random } from "./random.mjs"
import { newData, newEdit, applyEdit } from "./ops.mjs"
import { types, typeNames } from "./types.mjs"

export const MODES = ["flip-documents", "truncate-documents", "flip-catalog", "truncate-catalog", "delete-catalog", "everything"]

/** The storage NodePeer opens on a data directory (imported lazily: the built package, so the soak and tests see the same one). */
async function openStorage(storePath) {
  const { openStorage } = await import(new URL("../../../packages/node/dist/storage/openStorage.js", import.meta.url).href)
  return openStorage(storePath)
}

/** Every file under a directory. */
export async function walk(dir) {
  const out = []
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await walk(path)))
    else if (entry.isFile()) out.push(path)
  }
  return out
}

/** Where each byte string lies in the files under `root`: [{ file, offset, length, fileSize }]. */
export async function locate(root, needles) {
  const files = await Promise.all((await walk(root)).map(async file => ({ file, bytes: await readFile(file) })))
  return needles.map(needle => {
    const buffer = Buffer.from(needle)
    for (const { file, bytes } of files) {
      // The last copy: in a log, an earlier copy of the same bytes is a dead record that nothing reads.
      const offset = bytes.lastIndexOf(buffer)
      if (offset >= 0) return { file, offset, length: buffer.length, fileSize: bytes.length }
    }
    return undefined
  })
}

/** Rewrite both logs of a closed data directory with only their live records. */
async function compactLogs(dir) {
  const { LogStorageAdapter } = await import(new URL("../../../packages/node/dist/storage/LogStorageAdapter.js", import.meta.url).href)
  for (const path of [join(dir, "store"), join(dir, "store", "catalog")]) {
    const log = await LogStorageAdapter.open(path)
    await log.compact()
    await log.close()
  }
}

/** The stored chunks of documents and of the catalog, located on disk. */
export async function storedRegions(dir, ids) {
  const storePath = join(dir, "store")
  const storage = await openStorage(storePath)
  try {
    const documents = new Map()
    const chunksOf = new Map()
    for (const id of ids) {
      const chunks = (await storage.loadRange([id])).filter(c => c.data && (c.key[1] === "snapshot" || c.key[1] === "incremental"))
      documents.set(
        id,
        await locate(
          storePath,
          chunks.map(c => c.data),
        ),
      )
      chunksOf.set(
        id,
        chunks.map(c => Buffer.from(c.data).toString("base64")),
      )
    }
    const catalogChunks = (await storage.loadRange(["cairn-catalog"])).filter(c => c.data)
    const catalog = await locate(
      storePath,
      catalogChunks.map(c => c.data),
    )
    return { documents, chunks: chunksOf, catalog, catalogKeys: catalogChunks.map(c => c.key) }
  } finally {
    await storage.close?.()
  }
}

/** A document from stored chunks (base64), as far as they go. */
function loadChunks(chunks) {
  let doc = A.init()
  for (const chunk of chunks) {
    try {
      doc = A.loadIncremental(doc, Buffer.from(chunk, "base64"))
    } catch {
      // A chunk that does not apply (its dependencies were lost): what it held is missing.
    }
  }
  return doc
}

/** XOR a few bytes inside a region (past the first 8, so the damage is in the body, as bit rot would be anywhere). */
async function flip(region, rng) {
  const handle = await open(region.file, "r+")
  try {
    for (let i = 0; i < 3; i++) {
      const at = region.offset + Math.min(region.length - 1, 8 + rng.int(0, Math.max(0, region.length - 9)))
      const byte = Buffer.alloc(1)
      await handle.read(byte, 0, 1, at)
      byte[0] ^= 0xff
      await handle.write(byte, 0, 1, at)
    }
  } finally {
    await handle.close()
  }
}

/** Cut the file inside the region (a torn write). */
async function cut(region) {
  await truncate(region.file, region.offset + Math.floor(region.length / 2))
}

/** Delete the catalog: its files when each record is a file of its own, otherwise its records through the adapter. */
async function deleteCatalog(dir, regions, keys) {
  if (regions.every(r => r && r.offset === 0 && r.length === r.fileSize)) {
    for (const region of regions) await unlink(region.file).catch(() => {})
    return
  }
  const storage = await openStorage(join(dir, "store"))
  try {
    for (const key of keys) await storage.remove(key)
  } finally {
    await storage.close?.()
  }
}

/** A document as compared before and after: heads and data. */
async function snapshotOf(peer) {
  const out = new Map()
  for (const entry of peer.db.catalog.entries()) {
    if (entry.purged) continue
    const doc = await peer.db.get(entry.id)
    out.set(entry.id, { heads: entry.heads.join(), json: JSON.stringify({ data: doc.data, deletedAt: doc.deletedAt, type: doc.type }) })
  }
  return out
}

/**
 * One round: build a store, damage it in `mode`, reopen, check, sync, check.
 * @param {{ seed: number, mode: string, documents?: number }} options
 */
export async function runDamage(options) {
  const rng = new Random(options.seed)
  const mode = options.mode
  const count = options.documents ?? 30
  const root = await mkdtemp(join(tmpdir(), `cairn-damage-${options.seed}-`))
  const result = {
    seed: options.seed,
    mode,
    documents: count,
    damagedDocuments: 0,
    reported: 0,
    recovered: 0,
    catalogRebuilt: false,
    failures: [],
    dir: root,
  }
  const fail = message => result.failures.push(message)
  const victimDir = join(root, "victim")
  let healthy
  let victim
  try {
    // The check compares the documents of the app's types: no definitions published as documents.
    healthy = await NodePeer.open({ dir: join(root, "healthy"), types, publishDefinitions: false })
    const { url } = await healthy.listen({ port: 0 })
    victim = await NodePeer.open({ dir: victimDir, types, publishDefinitions: false })
    const ids = []
    for (let i = 0; i < count; i++) {
      const type = typeNames[i % typeNames.length]
      ids.push((await victim.db.create(type, newData(rng, type))).id)
    }
    // Edits make documents of several chunks (snapshots and incrementals), as a real store has.
    for (let i = 0; i < count * 2; i++) {
      const id = rng.pick(ids)
      const type = victim.db.catalog.get(id).type
      const edit = newEdit(rng, type)
      await victim.db.change(type, id, draft => applyEdit(draft, edit)).catch(() => {})
    }
    victim.connect(url)
    await victim.whenSynced(20_000)
    await healthy.whenSynced(20_000)
    const before = await snapshotOf(victim)
    await victim.close()
    victim = undefined

    // Damage. Compacted first, so the bytes found for a chunk are its live record: a dead copy of the same bytes (the
    // journal entry of a change, removed once automerge-repo saved the same change) would be damaged instead.
    await compactLogs(victimDir)
    const regions = await storedRegions(victimDir, ids)
    const targets = new Set()
    const flipped = new Set()
    /** Where each file was cut: every byte after it is gone. */
    const cutAt = new Map()
    if (mode !== "flip-catalog" && mode !== "truncate-catalog" && mode !== "delete-catalog") {
      for (const id of ids) if (rng.chance(0.25)) targets.add(id)
      if (targets.size === 0) targets.add(ids[0])
      for (const id of targets) {
        const located = regions.documents.get(id).filter(Boolean)
        if (located.length === 0) fail(`could not find the stored bytes of ${id} on disk`)
        const region = rng.pick(located)
        if (mode === "truncate-documents" || (mode === "everything" && rng.chance(0.5))) {
          await cut(region)
          const at = region.offset + Math.floor(region.length / 2)
          cutAt.set(region.file, Math.min(at, cutAt.get(region.file) ?? Infinity))
        } else {
          await flip(region, rng)
          flipped.add(id)
        }
      }
    }
    if (mode === "flip-catalog" || mode === "everything") for (const region of regions.catalog.filter(Boolean)) await flip(region, rng)
    if (mode === "truncate-catalog") await cut(rng.pick(regions.catalog.filter(Boolean)))
    if (mode === "delete-catalog") await deleteCatalog(victimDir, regions.catalog, regions.catalogKeys)
    // What the damage actually took: a document is damaged when the chunks still readable (through the storage,
    // which skips records that fail their checksum) lack changes it had. Cutting a log also cuts every record
    // after the cut, other documents' chunks too; a lost chunk whose changes another chunk also holds (an
    // incremental not yet removed after a snapshot) takes nothing.
    const after = await storedRegions(victimDir, ids)
    targets.clear()
    for (const id of ids) {
      const heads = A.getHeads(loadChunks(regions.chunks.get(id)))
      if (!A.hasHeads(loadChunks(after.chunks.get(id)), heads)) targets.add(id)
    }
    result.damagedDocuments = targets.size

    // Reopen: it must open, report, rebuild if needed, and keep every healthy document as it was.
    try {
      victim = await NodePeer.open({ dir: victimDir, types, publishDefinitions: false })
    } catch (error) {
      fail(`the damaged store did not open: ${error?.stack ?? error}`)
      return result
    }
    result.catalogRebuilt = victim.db.repairs !== undefined
    if (mode.includes("catalog") && !result.catalogRebuilt) {
      // A flip can land where the catalog still parses; then no rebuild is needed, but nothing may be lost either.
      if (mode !== "flip-catalog") fail(`the catalog was ${mode.split("-")[0]}d but not rebuilt`)
    }
    // What opening found (a rebuilt catalog reports what it could not read) and what a full check finds.
    const reported = new Set([...(victim.db.repairs?.damaged ?? []).map(d => d.id), ...(await victim.db.verify()).map(d => d.id)])
    result.reported = reported.size
    // Unknowable here: when the catalog was destroyed too ("everything"), a document whose lost records were all
    // cut off with a log's tail (a record flipped before the cut still names its document; one past it is gone). Nothing local says what
    // it had; it must come back from the healthy peer all the same (checked below). One file per chunk (nodefs)
    // has no such tail.
    const lostToTail = id => {
      const has = new Set(after.chunks.get(id))
      return regions.chunks.get(id).every((chunk, i) => {
        const region = regions.documents.get(id)[i]
        return has.has(chunk) || (region && region.offset >= (cutAt.get(region.file) ?? Infinity) - region.length)
      })
    }
    const unknowable = id => mode === "everything" && lostToTail(id)
    result.unknowable = [...targets].filter(unknowable).length
    for (const id of targets) {
      if (reported.has(id) || unknowable(id)) continue
      const where = regions.documents
        .get(id)
        .map(r => (r ? `${r.file.slice(victimDir.length)}@${r.offset}+${r.length}` : "?"))
        .join(" ")
      fail(
        `damaged document ${id} was not reported (verify: ${[...reported].join(", ") || "none"}; ${flipped.has(id) ? "flipped" : "not flipped"}; chunks at ${where}; cut at ${[...cutAt].map(([f, at]) => `${f.slice(victimDir.length)}@${at}`).join(" ")})`,
      )
    }
    // With the catalog gone too, nothing local says whether a lost record held changes the rest lacks: a document
    // that lost one is reported (and fetched again) to be safe, even when the record held nothing new.
    const lostRecord = id =>
      flipped.has(id) || regions.documents.get(id).some(r => r && r.offset + r.length > (cutAt.get(r.file) ?? Infinity))
    for (const id of reported)
      if (!targets.has(id) && !(result.catalogRebuilt && lostRecord(id))) fail(`document ${id} was reported damaged but was not damaged`)
    for (const id of ids) {
      if (targets.has(id)) continue
      let json
      try {
        const doc = await victim.db.get(id)
        json = JSON.stringify({ data: doc.data, deletedAt: doc.deletedAt, type: doc.type })
      } catch (error) {
        fail(`healthy document ${id} cannot be read after reopening: ${error?.name}: ${error?.message}`)
        continue
      }
      if (json !== before.get(id).json) fail(`healthy document ${id} changed:\n    before ${before.get(id).json}\n    after  ${json}`)
      if (victim.db.catalog.get(id)?.heads.join() !== before.get(id).heads) fail(`healthy document ${id} has other heads after reopening`)
    }
    const listed = new Set((await Promise.all(typeNames.map(t => victim.db.list(t, { includeDeleted: true })))).flat().map(d => d.id))
    for (const id of ids) if (!targets.has(id) && !listed.has(id)) fail(`healthy document ${id} is missing from its type's list`)

    // Sync: the damaged documents come back from the healthy peer.
    victim.connect(url)
    const deadline = Date.now() + 30_000
    while (victim.db.damaged().length > 0 && Date.now() < deadline) await sleep(100)
    await victim.whenSynced(20_000).catch(error => fail(`no sync after reopening: ${error.message}`))
    const recovered = await snapshotOf(victim)
    for (const id of ids) {
      const now = recovered.get(id)
      if (!now) fail(`${id} was not recovered from the healthy peer`)
      else if (now.json !== before.get(id).json || now.heads !== before.get(id).heads)
        fail(`${id} came back different:\n    before ${before.get(id).json}\n    after  ${now.json}`)
      else if (targets.has(id)) result.recovered++
    }
    if (victim.db.damaged().length > 0)
      fail(
        `still reported damaged after the sync: ${victim.db
          .damaged()
          .map(d => `${d.id} (${d.reason})`)
          .join(", ")}`,
      )

    // And it stays whole across one more restart.
    await victim.close()
    victim = await NodePeer.open({ dir: victimDir, types, publishDefinitions: false })
    const again = await victim.db.verify()
    if (again.length > 0) fail(`damage reported again after a clean restart: ${again.map(d => `${d.id} (${d.reason})`).join(", ")}`)
    const reopened = await snapshotOf(victim)
    for (const id of ids) if (reopened.get(id)?.json !== before.get(id).json) fail(`${id} differs after a clean restart`)
  } catch (error) {
    fail(`run aborted: ${error?.stack ?? error}`)
  } finally {
    await victim?.close().catch(() => {})
    await healthy?.close().catch(() => {})
    if (result.failures.length === 0) await rm(root, { recursive: true, force: true })
  }
  return result
}

export function damageReplayCommand({ seed, mode }) {
  return `npx tsc -b packages/node && node test/reliability/soak.mjs --only=damage --seed=${seed} --mode=${mode}`
}
