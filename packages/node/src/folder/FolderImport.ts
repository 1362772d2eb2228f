/**
 * Reading other machines' parts of a shared folder for one type: each
 * machine's files are applied in order, once (the state remembers the last
 * one), starting from its newest snapshot when that is whole; only files
 * signed by a machine this peer trusts to write the type are applied, and
 * through the same ingest every batch from a peer goes through (creation
 * proofs, types, fixed keys, quarantine).
 */
import { readFile } from "node:fs/promises"
import * as A from "@automerge/automerge"
import { isValidDocumentId } from "@automerge/automerge-repo"
import { headsKey, sameHeads, selects, type CatalogEntry, type Database, type TrustLookup, type TypeSelection } from "@cairn/core"
import { decodeFolderFile, type FolderPayload, type ReadFile } from "./FolderFile.js"
import type { FolderLayout, ListedFile } from "./FolderLayout.js"
import { PURGED, type FolderState } from "./FolderState.js"

export interface ImportContext {
  db: Database
  layout: FolderLayout
  state: FolderState
  trust: Pick<TrustLookup, "get">
  wants: TypeSelection
}

/** A file left unapplied for now, and why. */
export interface SkippedFile {
  path: string
  /** `incomplete`: still being copied in, read again later; `refused`: whole, but not applied (see reason). */
  kind: "incomplete" | "refused" | "waiting"
  reason: string
  /** Its size when skipped (an incomplete file that keeps its size is not being copied any more). */
  bytes: number
}

export interface Imported {
  files: string[]
  /** Documents that changed here. */
  received: number
  purged: number
  skipped: SkippedFile[]
  /** Documents whose changes were not applied (they would change what the document fixed at creation). */
  refused: { id: string; type: string; reason: string }[]
}

export function emptyImport(): Imported {
  return { files: [], received: 0, purged: 0, skipped: [], refused: [] }
}

/**
 * Apply what the other machines wrote for `type`. A file can build on changes
 * in another machine's file (a change made to a document read from there):
 * if that one is not applied yet (still being copied in), the file waits, and
 * the machines are gone through again while that lets another file in.
 */
export async function importType(context: ImportContext, type: string, into: Imported): Promise<void> {
  const me = context.db.machine.machineId
  let machines = (await context.layout.machines(type)).filter(machineId => machineId !== me)
  for (let pass = 0; pass <= machines.length && machines.length > 0; pass++) {
    let progressed = false
    const waiting: string[] = []
    for (const machineId of machines) {
      const dir = context.layout.machineDir(type, machineId)
      into.skipped = into.skipped.filter(file => !file.path.startsWith(dir))
      const result = await importMachine(context, type, machineId, into)
      progressed ||= result.progressed
      if (result.waiting) waiting.push(machineId)
    }
    if (!progressed) return
    machines = waiting
  }
}

async function importMachine(
  context: ImportContext,
  type: string,
  machineId: string,
  into: Imported,
): Promise<{ progressed: boolean; waiting: boolean }> {
  const { layout, state } = context
  const applied = state.applied(type, machineId)
  const files = (await layout.files(type, machineId)).filter(file => file.seq > applied)
  if (files.length === 0) return { progressed: false, waiting: false }
  let cursor = applied
  let waiting = false
  const read = (file: ListedFile) => readOne(context, type, machineId, file, into)
  const applyFile = async (file: ListedFile, payload: FolderPayload): Promise<boolean> => {
    const path = layout.file(type, machineId, file.name)
    const missing = await apply(context, type, payload, into)
    if (missing > 0) {
      waiting = true
      into.skipped.push({
        path,
        kind: "waiting",
        reason: `${missing} document(s) in it build on changes not here yet (another machine's file still to come)`,
        bytes: 0,
      })
      return false
    }
    cursor = file.seq
    into.files.push(path)
    return true
  }
  // The newest snapshot holds everything before it: the older files need not be read (they may be gone already).
  const snapshot = files.findLast(file => file.snapshot)
  if (snapshot) {
    const payload = await read(snapshot)
    if (payload) await applyFile(snapshot, payload)
  }
  for (const file of files) {
    if (waiting || file.seq <= cursor) continue
    const payload = await read(file)
    if (!payload) break
    if (payload.prev !== cursor && !payload.snapshot) {
      into.skipped.push({
        path: layout.file(type, machineId, file.name),
        kind: "waiting",
        reason: `waiting for file ${payload.prev} of this machine to arrive`,
        bytes: 0,
      })
      break
    }
    if (!(await applyFile(file, payload))) break
  }
  if (cursor !== applied) state.setApplied(type, machineId, cursor)
  return { progressed: cursor !== applied, waiting }
}

/** A file's payload if it is whole, signed, and by a machine trusted to write the type; else notes why not. */
async function readOne(
  context: ImportContext,
  type: string,
  machineId: string,
  file: ListedFile,
  into: Imported,
): Promise<FolderPayload | undefined> {
  const path = context.layout.file(type, machineId, file.name)
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (error) {
    // Gone since it was listed: its writer compacted; its snapshot is read on the next scan.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    into.skipped.push({ path, kind: "incomplete", reason: `cannot be read: ${(error as Error).message}`, bytes: 0 })
    return undefined
  }
  const result: ReadFile = await decodeFolderFile(bytes, { type, machineId, seq: file.seq })
  if (result.status !== "ok") {
    into.skipped.push({
      path,
      kind: result.status === "incomplete" ? "incomplete" : "refused",
      reason: result.reason,
      bytes: bytes.byteLength,
    })
    return undefined
  }
  const { payload } = result
  const trusted = context.trust.get(payload.publicKey)
  const refusal = !trusted
    ? `machine ${machineId} is not trusted here (cairn trust ${payload.publicKey} --write ${type})`
    : !selects(trusted.write, type)
      ? `machine ${machineId} may not write ${type} here`
      : undefined
  if (refusal) {
    into.skipped.push({ path, kind: "refused", reason: refusal, bytes: bytes.byteLength })
    return undefined
  }
  return payload
}

/** Apply a file; returns how many of its documents could not be, for lack of the changes they build on. */
async function apply(context: ImportContext, type: string, payload: FolderPayload, into: Imported): Promise<number> {
  const { db, wants, state } = context
  const catalog = db.replica.catalog
  const inFolder = state.type(type).inFolder
  // A document held here as another type is not this file's to change, whatever its bytes claim.
  const fits = (id: string) => {
    const local = catalog.get(id)
    return isValidDocumentId(id) && (!local || (local.type === type && !local.purged))
  }
  const docs = payload.docs.filter(doc => fits(doc.id))
  const before = new Map(docs.map(doc => [doc.id, headsKey(catalog.get(doc.id)?.heads ?? [])]))
  const refused = new Set<string>()
  const refuse = (id: string, reason: string) => {
    refused.add(id)
    into.refused.push({ id, type, reason })
  }
  await db.replica.ingest(
    docs.map(({ id, bytes, vouches }) => ({ id, bytes, ...(vouches ? { vouches } : {}) })),
    documentType => documentType === type && selects(wants, type),
    refuse,
  )
  let missing = 0
  for (const doc of docs) {
    const after = catalog.get(doc.id)
    if (!refused.has(doc.id) && (await lacksDependencies(context, doc, after))) missing++
    if (!after || after.purged || after.type !== type) continue
    if (headsKey(after.heads) !== before.get(doc.id)) into.received++
    // The folder holds these heads now: our next file need not carry them again.
    if (sameHeads(after.heads, doc.heads)) inFolder[doc.id] = after.heads
  }
  const writesEveryType = context.trust.get(payload.publicKey)?.write === "*"
  for (const tombstone of payload.tombstones) {
    if (!isValidDocumentId(tombstone.id)) continue
    const local = catalog.get(tombstone.id)
    if (local && (local.type !== type || local.purged)) continue
    // As over the network: a purge of a document not held here is kept only from a machine that may write every
    // type, or a machine trusted with one type could keep a document of another out by its id.
    if (!local && !writesEveryType) continue
    db.replica.applyTombstone({
      id: tombstone.id,
      type,
      createdAt: local?.createdAt ?? tombstone.createdAt,
      createdBy: local?.createdBy ?? tombstone.createdBy,
      modifiedAt: Date.now(),
      deletedAt: local?.deletedAt ?? tombstone.deletedAt ?? Date.now(),
      heads: [],
      purged: true,
    })
    inFolder[tombstone.id] = PURGED
    into.purged++
  }
  await db.replica.flush()
  return missing
}

/**
 * True when a document's bytes were not (all) applied because they build on
 * changes not here: bytes that are only later changes of a document new here
 * load into nothing, and a document held here does not reach their heads.
 * Bytes refused for what they are (another type, quarantined) do not wait.
 */
async function lacksDependencies(
  context: ImportContext,
  doc: FolderPayload["docs"][number],
  after: CatalogEntry | undefined,
): Promise<boolean> {
  if (after) return !after.purged && !after.quarantined && !(await context.db.replica.hasHeads(after, doc.heads))
  try {
    return A.getHeads(A.loadIncremental(A.init(), doc.bytes)).length === 0 && doc.heads.length > 0
  } catch {
    return false
  }
}
