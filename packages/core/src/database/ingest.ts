/**
 * Applying document bytes a peer sent. A document in memory is updated
 * through its handle (so the repo saves it and live subscribers see it). One
 * that is not is checked from its stored bytes plus the new ones and the new
 * bytes are written straight to storage as one more chunk: the repo loads
 * every chunk of a document, so this is exactly what it would have written,
 * without loading 1,000 handles (and announcing each to every peer) for an
 * initial sync.
 */
import * as A from "@automerge/automerge"
import type { DocHandle, DocumentId } from "@automerge/automerge-repo"
import type { CatalogEntry } from "../catalog/Catalog.js"
import { readFirstChange, type FirstChangeRead } from "../document/creation.js"
import {
  changeTimeMs,
  envelopeValues,
  fixedKeyRefusal,
  fixedKeyWritten,
  readEnvelope,
  verifyCreation,
  type Envelope,
} from "../document/envelope.js"
import { headsKey } from "../document/heads.js"
import type { ChunkStore } from "./ChunkStore.js"
import type { DocumentStore } from "./DocumentStore.js"
import { changeChunks, loadDocument, READ_ONLY_ACTOR } from "./StoredChunks.js"
import { checkVouches, unpackVouches, unvouched, type ChangeLinks } from "../identity/vouch.js"
import { machineIdOfActor } from "../identity/actor.js"

/**
 * An ingest that finds this many chunks stored for a document writes it as
 * one snapshot instead: every batch ingested adds a chunk, and a document
 * edited a thousand times by peers would otherwise be read (and each chunk's
 * checksum checked) as a thousand records on every load.
 */
const COMPACT_CHUNKS = 16
/** Documents of one ingest checked and written together. */
const INGEST_GROUP = 50

/** Told of a document whose bytes were refused (and not applied), and why. */
export type Refuse = (id: string, reason: string) => void

/** A document's bytes to apply, with the vouches of its changes' machines (identity/vouch.ts), one after another. */
export interface IngestDoc {
  id: string
  bytes: Uint8Array
  vouches?: Uint8Array
}

/**
 * Why changes of a document are refused for want of vouches: some name a machine that did not vouch for them. Only
 * the changes not held here already (`links`) are asked about; undefined when every one is vouched for, and the
 * vouches that name them are then accepted (listed with the document's next entry).
 */
export async function vouchRefusal(
  store: DocumentStore,
  id: string,
  vouches: Uint8Array | undefined,
  links: readonly ChangeLinks[],
): Promise<string | undefined> {
  if (links.length === 0) return undefined
  const revoked = revokedReason(store, links)
  if (revoked !== undefined) return revoked
  const checked = await checkVouches(id, unpackVouches(vouches) ?? [])
  const left = unvouched(links, checked)
  if (left.length > 0) return unvouchedReason(left)
  const named = new Set(links.map(change => change.hash))
  store.vouches.accept(
    id,
    checked.filter(vouch => named.has(vouch.hash)).map(vouch => vouch.vouch),
  )
  return undefined
}

/** Why changes are refused for their machine, when one of them was removed here (VouchBook.revoked). */
export function revokedReason(store: DocumentStore, links: readonly ChangeLinks[]): string | undefined {
  const machines = [...new Set(links.map(change => machineIdOfActor(change.actor)))].filter(machine => store.vouches.revoked(machine))
  return machines.length > 0 ? `changes made as machine ${machines.join(", ")}, which this peer no longer trusts` : undefined
}

/** The refusal of changes no vouch reaches, naming their machines. */
export function unvouchedReason(changes: readonly ChangeLinks[]): string {
  const machines = [...new Set(changes.map(change => machineIdOfActor(change.actor)))]
  return `${changes.length === 1 ? "a change" : `${changes.length} changes`} made as machine ${machines.join(", ")} without that machine's signature (a forged or unsigned change)`
}

/** The links of encoded changes (raw change chunks). */
export function linksOf(changes: readonly Uint8Array[]): ChangeLinks[] {
  return changes.map(bytes => {
    const { hash, actor, deps } = A.decodeChange(bytes)
    return { hash: hash!, actor, deps }
  })
}

/** The links of the changes `doc` has beyond `heads`. */
export function linksSince(doc: A.Doc<unknown>, heads: A.Heads): ChangeLinks[] {
  return A.getChangesMetaSince(doc, heads).map(({ hash, actor, deps }) => ({ hash, actor, deps }))
}

/** The changes of `links` that `doc` does not hold yet. */
export function notHeld(doc: A.Doc<unknown>, links: readonly ChangeLinks[]): ChangeLinks[] {
  if (links.length === 0) return []
  const missing = new Set(
    A.getMissingDeps(
      doc,
      links.map(change => change.hash),
    ),
  )
  return links.filter(change => missing.has(change.hash))
}

/**
 * Apply `docs` to the store; a document of a type `acceptType` refuses is not stored at all. Returns the entries
 * listed for them. Bytes that would change what a document held here fixed at its creation (its type, creator,
 * proof) are not applied, and `refuse` is told: this is the gate for every path that brings whole documents or
 * their changes in bulk (a batch pull, an import), as Replicator.admitRepoMessage is for automerge-repo's sync.
 */
export async function ingest(
  store: DocumentStore,
  docs: IngestDoc[],
  acceptType: (type: string) => boolean,
  refuse: Refuse = () => {},
  /** Every change must be vouched for by its machine (false only for this machine's own writes). */
  vouched = true,
): Promise<CatalogEntry[]> {
  const entries: CatalogEntry[] = []
  const direct: IngestDoc[] = []
  const proof = vouched ? vouchRefusal : async () => undefined
  for (const item of docs) {
    const handle = await store.readyHandle(item.id)
    if (handle) {
      const current = handle.doc()
      // Changes since some heads (what a peer usually sends) are checked as they are; anything else (a whole
      // document, a bundle) on a copy. A copy per ingest of a document being typed into cost a third of a keystroke's
      // latency to the other peer (W7).
      const changes = changeChunks(item.bytes)
      const copy = changes ? undefined : A.loadIncremental(A.clone(current, { actor: READ_ONLY_ACTOR }), item.bytes)
      const fixed = changes ? fixedKeyWritten(changes) : fixedKeyAdded(copy!, A.getHeads(current))
      if (fixed !== undefined) {
        refuse(item.id, fixedKeyRefusal(fixed))
        continue
      }
      const links = changes ? notHeld(current, linksOf(changes)) : linksSince(copy!, A.getHeads(current))
      const unproven = await proof(store, item.id, item.vouches, links)
      if (unproven !== undefined) {
        refuse(item.id, unproven)
        continue
      }
      handle.update(doc => A.loadIncremental(doc, item.bytes))
      entries.push(store.catalog.get(item.id)!)
    } else {
      direct.push(item)
    }
  }
  // In groups of INGEST_GROUP: 250 started at once ran seconds of checks and loads in one go, and nothing else on the
  // event loop (a ping, another peer's batch, the page) ran until all were done. A whole group still reaches the
  // storage together, as one write (one fsync); one at a time would not. A group is checked while the one before it
  // is being written: waiting for each fsync before checking more left the CPU idle for a fifth of a large sync.
  const writing: Promise<unknown>[] = []
  try {
    for (let start = 0; start < direct.length; start += INGEST_GROUP) {
      const group = direct.slice(start, start + INGEST_GROUP)
      writing.push(
        Promise.all(
          group.map(({ id, bytes, vouches }) =>
            store.exclusive([id], () =>
              ingestDetached(store, id, bytes, acceptType, entries, refuse, links => proof(store, id, vouches, links)),
            ),
          ),
        ),
      )
      if (writing.length > 1) await writing.shift()
    }
    await writing.shift()
  } catch (error) {
    // Nothing of this ingest may still be running when it reports.
    await Promise.allSettled(writing)
    throw error
  }
  return entries
}

/** Apply one document's bytes behind the repo (see the file's comment). */
async function ingestDetached(
  store: DocumentStore,
  id: string,
  bytes: Uint8Array,
  acceptType: (type: string) => boolean,
  entries: CatalogEntry[],
  refuse: Refuse,
  /** Why the changes `links` are refused for want of vouches, if they are. */
  proof: (links: ChangeLinks[]) => Promise<string | undefined>,
): Promise<void> {
  const { catalog, chunks } = store
  const listed = catalog.get(id)
  if (!listed && chunks && !store.isDamaged(id)) {
    const created = readFirstChange(bytes)
    if (created) return ingestCreated(store, chunks, id, bytes, created, acceptType, entries, refuse, proof)
  }
  // A tombstone wins over bytes asked for before it came (from another peer, or a purge here): never store a purged body again.
  if (listed?.purged) return
  // The copy last read or ingested, when it is still what the catalog lists: a server sends one document to
  // every peer that wants it and ingests each peer's changes to it, and loading it from storage for each
  // costs about ten times a copy in memory.
  // Every COMPACT_CHUNKS ingests it is read from storage all the same, for its chunks to be compacted.
  const cached = listed && (chunks?.count(id) ?? 0) < COMPACT_CHUNKS - 1 ? store.cached(id, listed) : undefined
  const stored = chunks && listed && !cached ? await chunks.read(id) : undefined
  let doc: A.Doc<Envelope>
  // The heads held here before, for a document held here: what the new bytes add is checked against them.
  let held: A.Heads | undefined
  if (cached) {
    held = A.getHeads(cached)
    doc = A.loadIncremental(A.clone(cached, { actor: READ_ONLY_ACTOR }), bytes)
  } else if (listed) {
    doc = A.init<Envelope>()
    if (stored?.bytes) doc = A.loadIncremental(doc, stored.bytes)
    if (chunks && catalog.get(id) === listed) store.checkAgainstCatalog(id, doc)
    held = A.getHeads(doc)
    doc = A.loadIncremental(doc, bytes)
  } else {
    // New here (an initial sync): A.load builds the document without computing patches, which
    // loadIncremental into an empty document does; measured about a third of ingest's time.
    doc = loadDocument(bytes)
  }
  if (A.getHeads(doc).length === 0) return
  const envelope = readEnvelope(doc)
  // A document we did not ask for by its real type is not stored at all (a peer cannot push other types in).
  if (!(cached || stored?.bytes) && envelope.ok && !acceptType(envelope.meta.type)) return
  const before = catalog.get(id)
  if (before && headsKey(before.heads) === headsKey(A.getHeads(doc))) {
    // Nothing new: the peer holds nothing this copy lacks. A document whose damage left what it lacked unknown
    // (a rebuilt catalog) is whole, then; waiting for changes that will never come, it stayed "damaged" for good.
    store.confirmedByPeer(id, doc)
    return
  }
  const fixed = held && held.length > 0 ? fixedKeyAdded(doc, held) : undefined
  if (fixed !== undefined) return refuse(id, fixedKeyRefusal(fixed))
  const unvouchedChanges = await proof(linksSince(doc, held ?? []))
  if (unvouchedChanges !== undefined) return refuse(id, unvouchedChanges)
  // A document new here: its creation proof is checked once, now (see document/envelope.ts).
  const unproven = before || !envelope.ok ? undefined : await verifyCreation(id, doc, envelope.meta)
  // Purged while it was read and checked, or while its chunk was written: it stays purged.
  if (catalog.get(id)?.purged) return
  if (chunks && stored && stored.keys.length >= COMPACT_CHUNKS) {
    await chunks.compact(id, doc, stored.keys)
  } else if (chunks) {
    if (!(await appendUnlessPurged(store, chunks, id, bytes))) return
  } else {
    store.repo.import(A.save(doc), { docId: id as DocumentId })
  }
  // The document may have been loaded meanwhile: `doc` (built from what was stored before) would set the catalog back.
  if (appliedToLateHandle(store, id, bytes, entries)) return
  entries.push(store.noteRemote(id, doc, unproven, envelope))
  // Kept for the next peer's changes to a document already here (see `cached` above). One new here is not: an
  // initial sync of 10,000 left the last 2,000 in memory for nothing, 35 to 40 MB of the client's RSS.
  if (listed) store.remember(id, doc)
}

/**
 * A document new here whose bytes are its one first change as Cairn writes it (what an initial sync moves:
 * nearly every document), read in JavaScript instead of loaded with Automerge (see document/creation.ts:
 * `readFirstChange` trusts only bytes that encode back exactly). The same checks as any document new here:
 * the envelope, the type asked for, the creation proof, the data against its type, before it is listed.
 */
async function ingestCreated(
  store: DocumentStore,
  chunks: ChunkStore,
  id: string,
  bytes: Uint8Array,
  created: FirstChangeRead,
  acceptType: (type: string) => boolean,
  entries: CatalogEntry[],
  refuse: Refuse,
  proof: (links: ChangeLinks[]) => Promise<string | undefined>,
): Promise<void> {
  const { catalog } = store
  const envelope = envelopeValues(created.root, created.actor)
  if (envelope.ok && !acceptType(envelope.meta.type)) return
  const unvouchedChange = await proof([{ hash: created.head, actor: created.actor, deps: [] }])
  if (unvouchedChange !== undefined) return refuse(id, unvouchedChange)
  const unproven = envelope.ok ? await verifyCreation(id, created.root, envelope.meta) : undefined
  if (catalog.get(id)?.purged || !(await appendUnlessPurged(store, chunks, id, bytes))) return
  if (appliedToLateHandle(store, id, bytes, entries)) return
  const state = { root: created.root, heads: [created.head], modifiedAt: changeTimeMs(created.time) }
  entries.push(store.noteRemoteState(id, state, unproven, envelope))
  // Its root, for reading it (a page listing what arrives reads every new document): no Automerge load later either.
  store.rememberNew(id, bytes, state.heads, created.root)
}

/** Write a document's new bytes as one more chunk; false (and nothing left written) when it was purged meanwhile. */
async function appendUnlessPurged(store: DocumentStore, chunks: ChunkStore, id: string, bytes: Uint8Array): Promise<boolean> {
  const key = await chunks.append(id, bytes)
  if (!store.catalog.get(id)?.purged) return true
  await chunks.remove(key)
  return false
}

/**
 * A document loaded while its bytes were checked and written (a local change, a peer's live sync): its copy in
 * memory is the newest, so the bytes go to its handle, and the catalog follows the handle. True when that happened.
 */
function appliedToLateHandle(store: DocumentStore, id: string, bytes: Uint8Array, entries: CatalogEntry[]): boolean {
  const apply = (handle: DocHandle<Envelope>) => handle.update(current => A.loadIncremental(current, bytes))
  const late = store.lateHandle(id, apply)
  if (!late) return false
  apply(late)
  entries.push(store.catalog.get(id)!)
  return true
}

/** The fixed envelope key that the changes `doc` has beyond `heads` write, if any (see fixedKeyWritten). */
function fixedKeyAdded(doc: A.Doc<Envelope>, heads: A.Heads): string | undefined {
  return fixedKeyWritten(A.getChangesSince(doc, heads))
}
