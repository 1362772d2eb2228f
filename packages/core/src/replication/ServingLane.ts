/**
 * Serving a peer's pulls: offers of the entries changed since its
 * checkpoint, of the types it may read (never another id), and the
 * documents it then wants, in frames a slow peer can take.
 */
import { isVisible } from "../catalog/Catalog.js"
import { headsKey } from "../document/heads.js"
import type { LaneContext } from "./LaneContext.js"
import type { Checkpoint, DocsEntry, Echo, OfferEntry } from "./protocol.js"
import { packVouches } from "../identity/vouch.js"

const OFFER_CHUNK = 2000
/** Documents read at once when answering a want. */
const READ_SLICE = 50
/** A `docs` frame is sent once it holds this many bytes of documents. */
const DOCS_FRAME_BYTES = 4 * 1024 * 1024

export class ServingLane {
  /** Documents sent to the peer in this connection. */
  sent = 0
  /** The checkpoint of the last offer served to the peer. */
  #served: Checkpoint | undefined

  constructor(private readonly context: LaneContext) {}

  /** Answer a pull (`pull`: its number, echoed in the offers). */
  async serve(since: Checkpoint | null, pull: number | undefined): Promise<void> {
    const { replica, peerHas, sends } = this.context
    const catalog = replica.catalog
    // The checkpoint we offer must be on disk (see Catalog.durableSeq): wait for the writes in progress. If they
    // fail, the offer still goes out, with the checkpoint that is on disk: the peer must get an answer.
    await replica.flush().catch(() => {})
    const seq = catalog.durableSeq
    // A checkpoint holds only for the types it was served for: one the peer took while it could read fewer
    // (a narrower read grant) must not skip the documents of the others that changed before it.
    const epoch = `${catalog.epoch}:${this.#readScope()}`
    const from = since && since.epoch === epoch ? since.seq : 0
    this.#served = { epoch, seq }
    const entries: OfferEntry[] = []
    for (const entry of catalog.changedSince(from)) {
      if (entry.quarantined || !sends(entry.type)) continue
      const theirs = peerHas.get(entry.id)
      if (theirs !== undefined) {
        peerHas.delete(entry.id)
        if (!entry.purged && theirs === headsKey(entry.heads)) continue
      }
      entries.push(
        entry.purged
          ? { id: entry.id, type: entry.type, heads: [], purged: true, deletedAt: entry.deletedAt }
          : { id: entry.id, type: entry.type, heads: entry.heads },
      )
    }
    for (let i = 0; i < entries.length || i === 0; i += OFFER_CHUNK) {
      const chunk = entries.slice(i, i + OFFER_CHUNK)
      this.context.send({
        t: "offer",
        epoch,
        seq,
        entries: chunk,
        done: i + OFFER_CHUNK >= entries.length,
        ...(pull !== undefined ? { pull } : {}),
      })
    }
  }

  /**
   * When every entry the peer may read that changed here since the last
   * offer we served it is a document it offered us, with the heads it
   * offered (we just pulled them from it), its checkpoint of us may move past
   * them without a pull: the pull would find nothing to want. Undefined when
   * any such entry is something else (a change of ours, a purge, one not yet
   * on disk): then the peer must pull.
   */
  async echo(): Promise<Echo | undefined> {
    const served = this.#served
    if (!served) return undefined
    const { replica, peerHas, sends } = this.context
    const catalog = replica.catalog
    // The checkpoint must be on disk (see serve).
    await replica.flush().catch(() => {})
    const seq = catalog.durableSeq
    if (seq <= served.seq || `${catalog.epoch}:${this.#readScope()}` !== served.epoch) return undefined
    for (const entry of catalog.changedSince(served.seq)) {
      if (entry.quarantined || !sends(entry.type)) continue
      if (entry.purged || entry.seq === undefined || entry.seq > seq || peerHas.get(entry.id) !== headsKey(entry.heads)) return undefined
    }
    return { epoch: served.epoch, from: served.seq, seq }
  }

  /** What decides which types we send this peer (see `sends`). */
  #readScope(): string {
    // Only what the peer knows already (its wants and its read grant): the types this peer keeps are not its business.
    return JSON.stringify([this.context.link.info.wants, this.context.grants.read])
  }

  /**
   * Answer a want in `docs` frames of at most about DOCS_FRAME_BYTES, read a
   * slice at a time, waiting for the connection to drain between frames: a
   * batch of large documents neither fills one huge frame nor sits in memory
   * whole while a slow peer reads.
   */
  async want(wants: { id: string; have: string[] }[]): Promise<void> {
    const { replica, link, sends, send } = this.context
    let docs: DocsEntry[] = []
    let refused: { id: string; reason: string }[] = []
    let bytes = 0
    for (let i = 0; i < wants.length; i += READ_SLICE) {
      await Promise.all(
        wants.slice(i, i + READ_SLICE).map(async ({ id, have }) => {
          const entry = replica.catalog.get(id)
          // The same answer whether the id is unknown or of a type the peer may not read: its existence is not revealed.
          if (!isVisible(entry, { includeDeleted: true }) || !sends(entry.type)) return refused.push({ id, reason: "not available" })
          // A document that cannot be read here is refused like one that is not here: every want gets an answer.
          const found = await replica.documentFor(id, have).catch(() => undefined)
          if (!found) return refused.push({ id, reason: "not available" })
          const { vouches } = found
          docs.push(vouches.length > 0 ? { id, bytes: found.bytes, vouches: packVouches(vouches) } : { id, bytes: found.bytes })
          bytes += found.bytes.byteLength
        }),
      )
      if (bytes < DOCS_FRAME_BYTES && i + READ_SLICE < wants.length) continue
      this.sent += docs.length
      send({ t: "docs", docs, refused })
      docs = []
      refused = []
      bytes = 0
      await link.whenDrained?.()
      if (this.context.closed()) return
    }
    if (wants.length === 0) send({ t: "docs", docs, refused })
  }
}
