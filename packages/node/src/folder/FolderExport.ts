/**
 * Writing this machine's part of a shared folder for one type: a sync file
 * with what changed since the folder last had each document (or, once its
 * files pass a count or size, one snapshot replacing them), and the JSON
 * form of every document, for people.
 */
import { mkdir, rm, stat } from "node:fs/promises"
import * as A from "@automerge/automerge"
import {
  encodeDocument,
  headsKey,
  packVouches,
  sameHeads,
  type CatalogEntry,
  type Database,
  type Envelope,
  type MachineIdentity,
} from "@cairn/core"
import { encodeFolderFile, FOLDER_FORMAT, type FolderPayload, type FolderTombstone } from "./FolderFile.js"
import { fileName, writeWhole, type FolderLayout } from "./FolderLayout.js"
import { PURGED, type FolderState, type OwnFile, type TypeState } from "./FolderState.js"

export interface CompactionLimits {
  /** Write a snapshot instead of one more file when the type has this many files of ours. */
  maxFiles: number
  /** ... or when its files since the last snapshot hold this many bytes, and more than the snapshot. */
  maxBytes: number
}

export interface ExportContext {
  db: Database
  machine: MachineIdentity
  layout: FolderLayout
  state: FolderState
  limits: CompactionLimits
}

/** What one export of a type wrote. */
export interface Exported {
  /** The sync file written, if anything had changed. */
  file?: string
  docs: number
  tombstones: number
}

export async function exportType(context: ExportContext, type: string): Promise<Exported> {
  const { db, machine, layout, limits } = context
  const own = context.state.type(type)
  await reconcileFiles(context, type, own)
  const catalog = db.replica.catalog
  const snapshot = own.files.length > 0 && needsCompaction(own.files, limits)
  const docs: FolderPayload["docs"] = []
  const tombstones: FolderTombstone[] = []
  for (const id of [...catalog.idsOfType(type)]) {
    const entry = catalog.get(id)
    if (!entry) continue
    const inFolder = own.inFolder[id]
    if (entry.purged) {
      if (snapshot || inFolder !== PURGED)
        tombstones.push({ id, createdAt: entry.createdAt, createdBy: entry.createdBy, deletedAt: entry.deletedAt })
      continue
    }
    if (entry.quarantined) continue
    const have = !snapshot && Array.isArray(inFolder) ? inFolder : []
    if (have.length > 0 && sameHeads(have, entry.heads)) continue
    // The heads before the bytes: bytes read after them hold at least these changes.
    const heads = entry.heads
    const found = await db.replica.documentFor(id, have).catch(() => undefined)
    if (found) docs.push({ id, heads, bytes: found.bytes, ...(found.vouches.length > 0 ? { vouches: packVouches(found.vouches) } : {}) })
  }
  if (!snapshot && docs.length === 0 && tombstones.length === 0) return { docs: 0, tombstones: 0 }
  const seq = own.seq + 1
  const payload: FolderPayload = {
    format: FOLDER_FORMAT,
    machineId: machine.machineId,
    publicKey: machine.publicKey,
    type,
    seq,
    prev: own.seq,
    snapshot,
    writtenAt: Date.now(),
    docs,
    tombstones,
  }
  const bytes = await encodeFolderFile(payload, machine)
  const name = fileName(seq, snapshot)
  await mkdir(layout.machineDir(type, machine.machineId), { recursive: true })
  await writeWhole(layout.file(type, machine.machineId, name), bytes, true)
  own.seq = seq
  const written: OwnFile = { name, seq, bytes: bytes.byteLength, snapshot }
  if (snapshot) {
    // Readers that had not applied the older files find the snapshot instead (see FolderImport).
    for (const old of own.files) await rm(layout.file(type, machine.machineId, old.name), { force: true })
    own.files = [written]
  } else {
    own.files.push(written)
  }
  for (const doc of docs) own.inFolder[doc.id] = doc.heads
  for (const tombstone of tombstones) own.inFolder[tombstone.id] = PURGED
  return { file: name, docs: docs.length, tombstones: tombstones.length }
}

/**
 * Bring the remembered list of our files in line with the folder: a crash
 * between writing a file and saving the state leaves a file the state does
 * not know (its number must not be used again); a person may have removed some.
 */
async function reconcileFiles(context: ExportContext, type: string, own: TypeState): Promise<void> {
  const { layout, machine } = context
  const listed = await layout.files(type, machine.machineId)
  const known = new Map(own.files.map(file => [file.name, file]))
  const files: OwnFile[] = []
  for (const file of listed) {
    const bytes = known.get(file.name)?.bytes ?? (await stat(layout.file(type, machine.machineId, file.name)).catch(() => undefined))?.size
    if (bytes !== undefined) files.push({ ...file, bytes })
  }
  own.files = files
  own.seq = Math.max(own.seq, files.at(-1)?.seq ?? 0)
}

function needsCompaction(files: OwnFile[], limits: CompactionLimits): boolean {
  if (files.length >= limits.maxFiles) return true
  const last = files.findLastIndex(file => file.snapshot)
  const since = files.slice(last + 1).reduce((sum, file) => sum + file.bytes, 0)
  return since >= Math.max(limits.maxBytes, last >= 0 ? files[last]!.bytes : 0)
}

/** JSON forms written at once: one after another, a thousand small files took a second. */
const JSON_WRITES = 32

/** Keep each document's JSON form in our part of the folder as it is here; remove those purged (or gone) here. */
export async function writeJsonForms(context: ExportContext, type: string): Promise<number> {
  const { layout, machine } = context
  const own = context.state.type(type)
  const catalog = context.db.replica.catalog
  const ids = new Set(catalog.idsOfType(type))
  const stale: CatalogEntry[] = []
  for (const id of ids) {
    const entry = catalog.get(id)!
    if (entry.purged || entry.quarantined) {
      if (own.json[id] !== undefined) await removeJson(context, type, id)
    } else if (own.json[id] !== headsKey(entry.heads)) {
      stale.push(entry)
    }
  }
  for (const id of Object.keys(own.json)) if (!ids.has(id)) await removeJson(context, type, id)
  if (stale.length > 0) await mkdir(layout.jsonDir(type, machine.machineId), { recursive: true })
  let written = 0
  for (let start = 0; start < stale.length; start += JSON_WRITES) {
    await Promise.all(
      stale.slice(start, start + JSON_WRITES).map(async entry => {
        const json = await jsonForm(context.db, entry)
        if (json === undefined) return
        await writeWhole(layout.jsonFile(type, machine.machineId, entry.id), json, false)
        own.json[entry.id] = headsKey(entry.heads)
        written++
      }),
    )
  }
  return written
}

/**
 * A document as `cairn export` writes it. Built from its stored bytes
 * (which replication reads without loading the document into the store):
 * reading a thousand documents through the database took seconds.
 */
async function jsonForm(db: Database, entry: CatalogEntry): Promise<string | undefined> {
  const bytes = await db.replica.bytesFor(entry.id, []).catch(() => undefined)
  if (!bytes) return undefined
  try {
    return JSON.stringify(encodeDocument(entry.id, A.load<Envelope>(bytes), entry), null, 2) + "\n"
  } catch {
    return undefined
  }
}

async function removeJson(context: ExportContext, type: string, id: string): Promise<void> {
  await rm(context.layout.jsonFile(type, context.machine.machineId, id), { force: true })
  delete context.state.type(type).json[id]
}
