/**
 * Replication's side of the database, beside the app's API: what a
 * replicator, or a runtime repairing its storage, does with the documents.
 * Applying what a peer sent (documents, purge tombstones), the bytes and
 * heads a peer asks about, the catalog it serves from, damage found in
 * storage, and which documents the app watches live. Built on the same
 * document store and group commit as the app's API.
 */
import * as A from "@automerge/automerge"
import type { Catalog, CatalogEntry } from "../catalog/Catalog.js"
import type { CommittedRow } from "../storage/SequencedStorage.js"
import type { Envelope } from "../document/envelope.js"
import { containsHeads, headsKey } from "../document/heads.js"
import { Emitter } from "../helpers/Emitter.js"
import { LruCache } from "../helpers/LruCache.js"
import type { DamagedDocument } from "./DamagedDocuments.js"
import type { DocumentStore, StoreEvents } from "./DocumentStore.js"
import type { GroupCommit } from "./GroupCommit.js"
import { ingest, type IngestDoc, type Refuse } from "./ingest.js"
import type { MachineIdentity } from "../identity/Machine.js"
import {
  makeVouch,
  packVouches,
  storedVouches,
  unionVouches,
  vouchedHash,
  vouchKey,
  unpackVouches,
  unvouched,
  type ChangeLinks,
  type Vouch,
} from "../identity/vouch.js"
import { machineIdOfActor } from "../identity/actor.js"

export interface ReplicaEvents extends StoreEvents {
  /** The app started or stopped subscribing to a document. */
  watch: { id: string; watched: boolean }
}

/** Encoded changes kept for the next peer that asks for the same ones (see bytesFor). */
const ENCODED_CACHE_SIZE = 512

export class Replica extends Emitter<ReplicaEvents> {
  /** Documents being ingested (how many ingests of each are in progress). */
  readonly #ingesting = new Map<string, number>()
  readonly #watchers = new Map<string, number>()
  readonly #encoded = new LruCache<string, Uint8Array>(ENCODED_CACHE_SIZE)

  constructor(
    /** The document store both sides are built on (handles, stored bytes). */
    readonly store: DocumentStore,
    /** The catalog replication serves from: entries, their change sequence, its epoch. */
    readonly catalog: Catalog,
    private readonly commit: GroupCommit,
    /** This machine (it vouches for its changes: identity/vouch.ts). */
    private readonly machine: MachineIdentity,
    /** Throws when the database is closed. */
    private readonly assertOpen: () => void,
  ) {
    super()
    store.on("change", event => {
      // A change that arrived by live sync is saved by the repo; the catalog must follow it to disk. An ingest commits
      // its own documents together: committing each as it is noted made a catalog write per document of a batch.
      if (event.origin === "remote" && !this.#ingesting.has(event.id)) this.commit.commit([event.id]).catch(() => {})
      this.emit("change", event)
    })
    store.on("quarantine", event => this.emit("quarantine", event))
    store.on("damaged", event => this.emit("damaged", event))
  }

  /**
   * Apply document bytes that a peer sent. Checked like any remote change: a
   * bad document is stored but quarantined; one of a type `acceptType`
   * refuses is not stored; bytes that would change what a document held here
   * fixed at creation are not applied, and `refuse` is told. Resolves when on disk.
   * `origin` "local": the bytes are this machine's own writes (an app's,
   * checked with checkLocalWrite), and their change events say so.
   */
  async ingest(
    docs: IngestDoc[],
    acceptType: (type: string) => boolean = () => true,
    refuse?: Refuse,
    origin: "local" | "remote" = "remote",
  ): Promise<CatalogEntry[]> {
    this.assertOpen()
    for (const { id } of docs) this.#ingesting.set(id, (this.#ingesting.get(id) ?? 0) + 1)
    const releaseOwn = origin === "local" ? this.store.ingestingOwn(docs.map(doc => doc.id)) : () => {}
    try {
      // This machine's own writes (an app's, checked with checkLocalWrite: every change is this machine's) need no
      // vouch to come in; this machine vouches for them at the commit. Anything else needs its machines' vouches.
      const entries = await ingest(this.store, docs, acceptType, refuse, origin === "remote")
      await this.commit.commit(docs.map(d => d.id))
      return entries
    } finally {
      releaseOwn()
      for (const { id } of docs) {
        const left = this.#ingesting.get(id)! - 1
        if (left > 0) this.#ingesting.set(id, left)
        else this.#ingesting.delete(id)
      }
    }
  }

  /** Apply a purge tombstone that arrived from a peer. It joins the next group like any write, so the checkpoint offered to peers covers it. */
  applyTombstone(tombstone: CatalogEntry): void {
    this.store.notePurged(tombstone, "remote")
    void this.commit.commit([]).catch(() => {})
  }

  /**
   * Bytes for a document a peer wants: its changes since `have` (the whole
   * document if `have` is empty). Read through the store's cache: a
   * document just changed is wanted by every peer that syncs its type.
   */
  async bytesFor(id: string, have: string[]): Promise<Uint8Array | undefined> {
    if (have.length === 0) {
      // A whole document: the stored bytes as they are (an initial sync loads nothing), or its handle's state. Not a
      // save of a copy in the read cache: a document still stored as its first change then reached the peer as a
      // saved document, which it must load with Automerge instead of reading the change (see ingest.ts).
      return this.store.readStored(id)
    }
    const doc = await this.#current(id)
    if (!doc) return undefined
    return this.#changesSince(id, doc, have.filter(hash => containsHeads(doc, [hash])).sort())
  }

  #changesSince(id: string, doc: A.Doc<unknown>, known: string[]): Uint8Array {
    // A change made on one peer is wanted by every other peer that syncs its type, most of them with the same heads.
    const key = `${id} ${A.getHeads(doc).join()} ${known.join()}`
    let bytes = this.#encoded.get(key)
    if (!bytes) {
      bytes = changesSince(doc, known)
      this.#encoded.set(key, bytes)
    }
    return bytes
  }

  /**
   * The vouches to send with a document's changes: those its entry lists (its machines', this machine's among them)
   * and those accepted for it and not yet listed (`held`, when the caller took them when the changes were read:
   * see vouchesHeld). Given the changes sent (`changes`), only the vouches that name one of them, and this machine's
   * vouches over the heads of the changes sent when a change of its own is among those none of them reaches (a
   * change live sync sends before the group commit has vouched for it), signed now.
   */
  async vouchesFor(id: string, changes?: readonly ChangeLinks[], held?: readonly Vouch[]): Promise<Vouch[]> {
    // Until this machine's vouch for its latest change is in the entry (a few rounds at most: each is a signature,
    // and only a change made meanwhile needs another).
    for (let round = 0; !changes && round < 4 && this.store.unvouched(id); round++) await this.store.vouchOwn([id])
    const entry = this.catalog.get(id)
    // Without the changes, those held when they were read and those held now (a vouch may have given way to a newer
    // one since, and this machine's own may have been made just now).
    const all =
      held && changes ? [...held] : (unpackVouches(unionVouches(packVouches(held ?? []), packVouches(this.vouchesHeld(id)))) ?? [])
    if (!changes) {
      // A document of this machine's listed without its vouch (a catalog rebuilt from the documents, or one written
      // before vouches): vouched for now, over the heads listed.
      if (
        entry &&
        !entry.purged &&
        entry.createdBy === this.machine.machineId &&
        !all.some(vouch => vouchKey(vouch) === this.machine.publicKey)
      )
        all.push(...(await Promise.all(entry.heads.map(head => makeVouch(this.machine, id, head)))))
      return all
    }
    const sent = new Set(changes.map(change => change.hash))
    const naming = await storedVouches(all.filter(vouch => sent.has(vouchedHash(vouch))))
    const own = this.machine.machineId
    if (!unvouched(changes, naming).some(change => machineIdOfActor(change.actor) === own)) return naming.map(checked => checked.vouch)
    // Over the changes' heads (those no other change sent depends on): following dependencies from them reaches
    // every change sent, so they reach every one of this machine's.
    const depended = new Set(changes.flatMap(change => change.deps))
    const heads = changes.filter(change => !depended.has(change.hash)).map(change => change.hash)
    const signed = await Promise.all(heads.map(hash => makeVouch(this.machine, id, hash)))
    return [...naming.map(checked => checked.vouch), ...signed]
  }

  /** The vouches held for a document now: those its entry lists and those accepted for it since. */
  vouchesHeld(id: string): Vouch[] {
    return [...(unpackVouches(this.catalog.get(id)?.vouches) ?? []), ...this.store.vouches.pending(id)]
  }

  /**
   * A document for a peer that wants it (see bytesFor), with the vouches for what is sent: for changes since
   * `have`, exactly those naming them (read from the same state as the changes, so a change made meanwhile cannot
   * leave them without); for a whole document, every vouch held.
   */
  async documentFor(id: string, have: string[]): Promise<{ bytes: Uint8Array; vouches: Vouch[] } | undefined> {
    if (have.length === 0) {
      const bytes = await this.bytesFor(id, [])
      return bytes && { bytes, vouches: await this.vouchesFor(id) }
    }
    const doc = await this.#current(id)
    if (!doc) return undefined
    const held = this.vouchesHeld(id)
    const known = have.filter(hash => containsHeads(doc, [hash])).sort()
    const bytes = this.#changesSince(id, doc, known)
    const links = A.getChangesMetaSince(doc, known).map(({ hash, actor, deps }) => ({ hash, actor, deps }))
    return { bytes, vouches: await this.vouchesFor(id, links, held) }
  }

  /** True when this peer's copy of a document already contains all of `heads`. */
  async hasHeads(entry: CatalogEntry, heads: string[]): Promise<boolean> {
    if (headsKey(entry.heads) === headsKey(heads)) return true
    const doc = await this.#current(entry.id)
    return !!doc && containsHeads(doc, heads)
  }

  /**
   * A document's current state, for a peer (its changes, its heads): from
   * its handle, the read cache, or storage (then cached). Unlike the store's
   * `read`, it does not refuse purged or quarantined documents: the caller
   * has decided what it may serve.
   */
  async #current(id: string): Promise<A.Doc<Envelope> | undefined> {
    const inMemory = this.#inMemory(id)
    if (inMemory) return inMemory
    const doc = await this.store.loadStored(id)
    if (doc) this.store.remember(id, doc)
    return doc
  }

  /** `#current`, if that needs no read from storage. */
  #inMemory(id: string): A.Doc<Envelope> | undefined {
    const handle = this.store.loaded(id)
    if (handle?.isReady()) return handle.doc()
    const entry = this.catalog.get(id)
    return entry && this.store.cached(id, entry)
  }

  /** A peer syncs this document live through the repo: load it into the store, so what it receives is checked and listed like any remote change. */
  track(id: string): void {
    void this.store.load(id).catch(() => {})
  }

  /** Resolves when every acknowledged write so far is on disk (the catalog's `durableSeq` then covers it). */
  async flush(): Promise<void> {
    await this.commit.idle()
    await this.catalog.settled()
  }

  /**
   * Rows committed to a storage this process shares with others
   * (SequencedStorage.ts), in commit order, every commit up to `upTo`:
   * applied to what is in memory here without writing them again. A document
   * loaded here takes its new chunks, the catalog takes the entries (with the
   * store's numbers), and peers that may read them are told to pull. An
   * entry that replaced another process's may lack that one's change (the two
   * changed the document at once): the document, which holds both, decides,
   * and a merged entry is written when they differ.
   */
  async applyCommitted(rows: readonly CommittedRow[], upTo: number): Promise<void> {
    this.assertOpen()
    // Another process's chunks of each document, by document (undefined once a chunk came without its bytes).
    const documents = new Map<string, Uint8Array[] | undefined>()
    for (const row of rows) {
      const id = row.key[0]!
      if (row.own || id.startsWith("cairn-")) continue
      const chunks = documents.has(id) ? documents.get(id) : []
      documents.set(id, chunks && row.data ? [...chunks, row.data] : undefined)
    }
    for (const [id, chunks] of documents) {
      await this.store.followStored(id)
      // The copy kept for reading and ingesting takes them too (without them, the next read of the document here,
      // to serve it to a client or ingest a client's change, loaded it whole from storage: with several processes,
      // that was most of what each process added cost every change).
      if (chunks) this.store.advanceCached(id, chunks)
    }
    for (const row of rows) {
      if (row.key[0] !== "cairn-catalog" || row.data === undefined) continue
      const { entry, taken, concurrent } = this.catalog.adopt(row)
      // Not taken: this process changed it since, and its own row (written next) is checked when it comes back.
      if (!taken) continue
      if (concurrent) await this.#merge(entry)
      else if (!row.own && !entry.quarantined) this.emit("change", { id: entry.id, type: entry.type, origin: "remote", entry })
    }
    this.catalog.appliedUpTo(upTo)
  }

  async #merge(entry: CatalogEntry): Promise<void> {
    const doc = (await this.store.readyHandle(entry.id))?.doc() ?? (await this.store.loadStored(entry.id))
    if (doc && !entry.purged && headsKey(A.getHeads(doc)) !== headsKey(entry.heads)) this.store.noteRemote(entry.id, doc)
    else this.emit("change", { id: entry.id, type: entry.type, origin: "remote", entry: this.catalog.get(entry.id) ?? entry })
  }

  /** Documents found damaged here and not yet recovered from a peer. */
  damaged(): DamagedDocument[] {
    return this.store.damaged()
  }

  /** Record that a document's stored copy is damaged (peers are asked for it again); `missing`: the heads it lacks. */
  noteDamaged(id: string, reason: string, missing?: string[]): void {
    this.store.noteDamaged(id, reason, missing)
  }

  /**
   * Check every stored document (or those in `ids`): unreadable chunks are
   * dropped, lost changes noticed; return the damaged ones: those still
   * missing something (also in `damaged()`) and those whose dropped chunks
   * held nothing the rest lacked. Reads every document it checks, so it is
   * not done on open; documents open in memory are whole there and skipped.
   * An id the catalog does not know (its storage reported a damaged record of
   * it, and nothing else of it is left) is reported damaged of unknown type,
   * so peers that have it send it back.
   */
  async verify(ids?: Iterable<string>): Promise<DamagedDocument[]> {
    this.assertOpen()
    const found = new Map<string, DamagedDocument>()
    const stop = this.store.on("damaged", damage => void found.set(damage.id, damage))
    try {
      const entries = ids ? [...new Set(ids)].map(id => this.catalog.get(id) ?? id) : [...this.catalog.entries()]
      for (const entry of entries) {
        if (typeof entry === "string") {
          if (!(await this.store.loadStored(entry)))
            this.store.noteDamaged(entry, "a stored record of it was damaged and nothing readable is left", [])
        } else if (!entry.purged && !this.store.loaded(entry.id)) await this.store.loadStored(entry.id)
      }
    } finally {
      stop()
    }
    const wanted = ids ? new Set(ids) : undefined
    for (const damage of this.damaged()) if (!wanted || wanted.has(damage.id)) found.set(damage.id, damage)
    return [...found.values()]
  }

  /**
   * True while the app subscribes to the document. automerge-repo's live
   * per-document sync (lowest latency, one message per keystroke) runs for
   * watched documents; everything else moves in batches.
   */
  isWatched(id: string): boolean {
    return (this.#watchers.get(id) ?? 0) > 0
  }

  /** The app watches a document (see isWatched); returns the function that stops watching. */
  watch(id: string): () => void {
    this.#count(id, +1)
    let watching = true
    return () => {
      if (!watching) return
      watching = false
      this.#count(id, -1)
    }
  }

  #count(id: string, delta: number): void {
    const count = (this.#watchers.get(id) ?? 0) + delta
    if (count > 0) this.#watchers.set(id, count)
    else this.#watchers.delete(id)
    if ((delta > 0 && count === 1) || count === 0) this.emit("watch", { id, watched: count > 0 })
  }
}

/**
 * A document's changes since `heads`, encoded for the wire. One change goes
 * as itself (`saveSince`); several go as a bundle, which encodes them
 * together, compressed like a saved document: 20 small changes to a task take
 * about 260 bytes as a bundle against 2,200 one after another, so what a
 * reconnect moves no longer grows with every change made offline. The peer
 * applies either with `loadIncremental`, and stores either as a chunk that
 * loads with the rest. (`saveBundle` is marked experimental in Automerge 3.5;
 * the replication tests check that a bundle round-trips.)
 */
function changesSince(doc: A.Doc<unknown>, heads: string[]): Uint8Array {
  const changes = A.getChangesMetaSince(doc, heads)
  if (changes.length < 2) return A.saveSince(doc, heads)
  return A.saveBundle(
    doc,
    changes.map(change => change.hash),
  )
}
