/**
 * Pulling from a peer: asking what changed since our checkpoint of it,
 * wanting only the documents whose heads differ, ingesting them in
 * batches, then moving the checkpoint.
 *
 * A pull always ends: one that makes no progress for the stall timeout is
 * reported (the `stalled` status) and, when it waits on the peer, retried
 * (the pull again if no offer came, else the wanted documents that got no
 * answer); one whose batch could not be stored ends without moving the
 * checkpoint and is pulled again later.
 */
import { headsKey, sameHeads } from "../document/heads.js"
import type { LaneContext } from "./LaneContext.js"
import type { ControlMessage, DocsEntry, Echo } from "./protocol.js"

/** A pull that failed (its batch could not be stored) is tried again after this, doubling to a minute. */
const RETRY_MS = 1000

/** What the pulling lane tells its session. */
export interface PullEvents {
  /** Something a status shows changed. */
  changed(): void
  /** The pull stalled or failed; `reason` says what it waits for. */
  stalled(reason: string): void
  /** Documents the peer sent were refused (not applied), and it was told why. */
  refused(ids: string[], reason: string): void
  /** A pull ended with everything stored and the peer told so. */
  finished(): void
  /** What to tell the peer, with the end of a pull, of our own changes that are its documents come back (see ServingLane.echo). */
  echo(): Promise<Echo | undefined>
}

export class PullingLane {
  /** A pull is in progress. */
  pulling = false
  #pullAgain = false
  /** A pull has completed since the session started. */
  pulledOnce = false
  /** When the last pull completed (ms), or null. */
  lastSyncAt: number | null = null
  /** Documents received from the peer in this connection. */
  received = 0
  /** Set while the pull has made no progress for the stall timeout: what it is waiting for. */
  stalled: string | undefined
  /** Numbers our pulls; the peer's offers say which pull they answer, so one for a pull given up on is ignored. */
  #pullId = 0
  #offer: { epoch: string; seq: number; done: boolean } | undefined
  /** Wanted documents not answered yet, with the heads we had when we asked. */
  readonly #outstanding = new Map<string, string[]>()
  #wantQueue: { id: string; have: string[] }[] = []
  /** When the pull in progress last moved (sent, offered, a batch answered). */
  #progressAt = 0
  /** The message this lane is handling, and since when. */
  #handling: { what: string; since: number } | undefined
  #pullFailed: unknown
  #retryMs = RETRY_MS
  #watchdog: ReturnType<typeof setInterval> | undefined
  #retry: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly context: LaneContext,
    private readonly events: PullEvents,
  ) {}

  /** True when nothing is pulled or waiting to be. */
  get idle(): boolean {
    return this.pulledOnce && !this.pulling && !this.#pullAgain
  }

  start(): void {
    this.#watchdog = setInterval(() => this.#checkProgress(), Math.max(10, this.context.settings.stallMs / 4))
    this.pull()
  }

  stop(): void {
    clearInterval(this.#watchdog)
    clearTimeout(this.#retry)
  }

  /** Handle one message of this lane, noting what it is handling (see #checkProgress). */
  async handle(what: string, work: () => Promise<void>): Promise<void> {
    this.#handling = { what, since: Date.now() }
    try {
      await work()
    } finally {
      this.#handling = undefined
    }
  }

  /** Pull now, or once the pull in progress is over. */
  pull(): void {
    if (this.pulling) {
      this.#pullAgain = true
      return
    }
    this.pulling = true
    this.#pullFailed = undefined
    this.#sendPull()
    this.events.changed()
  }

  /**
   * Ask the peer for documents found damaged here, even though it did not
   * offer them (it offers only what changed since our checkpoint). A peer
   * that does not have one, or may not send it, answers "not available".
   */
  fetch(damaged: { id: string; type: string }[]): void {
    for (const { id, type } of damaged) {
      if (type !== "unknown" && !this.context.accepts(type)) continue
      if (this.#outstanding.has(id) || this.#wantQueue.some(want => want.id === id)) continue
      this.#wantQueue.push({ id, have: this.context.replica.catalog.get(id)?.heads ?? [] })
    }
    this.#sendWants()
  }

  #scope(): string {
    // Our own catalog's epoch too: a rebuilt catalog (after damage) may lack documents we once pulled, so pull everything again.
    return JSON.stringify([this.context.wants, this.context.grants.write, this.context.replica.catalog.epoch])
  }

  #sendPull(): void {
    const id = ++this.#pullId
    this.#offer = undefined
    this.#progressAt = Date.now()
    this.context.checkpoints.get(this.context.link.info.machineId, this.#scope()).then(
      since => id === this.#pullId && this.context.send({ t: "pull", since, id }),
      // Unreadable checkpoints: pull everything.
      () => id === this.#pullId && this.context.send({ t: "pull", since: null, id }),
    )
  }

  async offer(offer: Extract<ControlMessage, { t: "offer" }>): Promise<void> {
    // An answer to a pull given up on (see #checkProgress): the pull sent since has its own.
    if (offer.pull !== undefined && offer.pull !== this.#pullId) return
    this.#progress()
    const { replica, grants, peerHas, accepts, hides } = this.context
    const denied: string[] = []
    for (const entry of offer.entries) {
      if (!entry.purged) peerHas.set(entry.id, headsKey(entry.heads))
      const hidden = hides(entry.id)
      const local = hidden ? undefined : replica.catalog.get(entry.id)
      if (!accepts(entry.type)) {
        if (local && !local.purged && !sameHeads(local.heads, entry.heads)) denied.push(entry.id)
        continue
      }
      // An offer naming another type than the document has is a lie; a hidden one is answered as if missing (wanted, then dropped on arrival).
      if (local && local.type !== entry.type) continue
      if (entry.purged) {
        // A tombstone for an id we do not hold is kept (and passed on) only from a peer that may write every type: from
        // any other, whether it changed something here would tell it whether we hold a document it may not know of.
        if (hidden || (!local && grants.write !== "*")) continue
        if (!local?.purged) {
          replica.applyTombstone({
            id: entry.id,
            type: entry.type,
            createdAt: local?.createdAt ?? 0,
            createdBy: local?.createdBy ?? "",
            modifiedAt: Date.now(),
            deletedAt: entry.deletedAt ?? Date.now(),
            heads: [],
            purged: true,
          })
        }
        continue
      }
      if (local?.purged) continue
      if (!local) this.#wantQueue.push({ id: entry.id, have: [] })
      else if (!(await replica.hasHeads(local, entry.heads))) this.#wantQueue.push({ id: entry.id, have: local.heads })
    }
    if (denied.length > 0) this.context.send({ t: "denied", ids: denied, reason: "this peer may not write documents of these types here" })
    if (offer.done) this.#offer = { epoch: offer.epoch, seq: offer.seq, done: true }
    this.#sendWants()
    await this.#maybeFinish()
  }

  #sendWants(): void {
    const { batchSize } = this.context.settings
    while (this.#wantQueue.length > 0 && this.#outstanding.size < batchSize * 4) {
      const batch = this.#wantQueue.splice(0, batchSize)
      for (const want of batch) this.#outstanding.set(want.id, want.have)
      this.context.send({ t: "want", docs: batch })
    }
  }

  async docs(docs: DocsEntry[], refused: { id: string }[]): Promise<void> {
    const { replica, accepts, hides } = this.context
    const asked = docs.filter(doc => this.#outstanding.has(doc.id) && !hides(doc.id))
    if (asked.length > 0 || refused.some(doc => this.#outstanding.has(doc.id))) this.#progress()
    if (asked.length > 0) {
      // Refused (a change to what a document fixed at creation): it stays as it was here, and the peer is told, as at the gate.
      const refusals = new Map<string, string[]>()
      const refuse = (id: string, reason: string) => refusals.set(reason, [...(refusals.get(reason) ?? []), id])
      try {
        await replica.ingest(asked, accepts, refuse)
        this.received += asked.length
      } catch (error) {
        // Not stored (a full disk, a closing database): this pull must not move the checkpoint past them.
        this.#pullFailed = error
      }
      for (const [reason, ids] of refusals) {
        this.context.send({ t: "denied", ids, reason })
        this.events.refused(ids, reason)
      }
    }
    for (const doc of docs) this.#outstanding.delete(doc.id)
    for (const doc of refused) this.#outstanding.delete(doc.id)
    this.#sendWants()
    await this.#maybeFinish()
  }

  async #maybeFinish(): Promise<void> {
    if (!this.#offer?.done || this.#outstanding.size > 0 || this.#wantQueue.length > 0) return
    const { epoch, seq } = this.#offer
    this.#offer = undefined
    const failure = this.#pullFailed
    if (failure === undefined) {
      try {
        await this.context.checkpoints.set(this.context.link.info.machineId, this.#scope(), { epoch, seq })
      } catch {
        // The checkpoint stays where it was: the next pull asks for these entries again.
      }
    }
    this.pulling = false
    this.stalled = undefined
    if (failure !== undefined) {
      this.events.stalled(
        `pulling from this peer failed (${(failure as Error)?.message ?? failure}); trying again in ${seconds(this.#retryMs)}`,
      )
      this.#retry = setTimeout(() => this.context.closed() || this.pull(), this.#retryMs)
      this.#retryMs = Math.min(60_000, this.#retryMs * 2)
      this.events.changed()
      return
    }
    this.#retryMs = RETRY_MS
    this.pulledOnce = true
    this.lastSyncAt = Date.now()
    const echo = await this.events.echo().catch(() => undefined)
    this.context.send({ t: "pulled", seq, ...(echo ? { echo } : {}) })
    if (this.#pullAgain) {
      this.#pullAgain = false
      this.pull()
    } else {
      this.events.finished()
    }
    this.events.changed()
  }

  /**
   * The peer says its catalog changed since the last offer it served us only
   * with documents we offered it (see ServingLane.echo): when our checkpoint
   * of it is at that offer or past it, move it to `echo.seq` and say so,
   * without a pull that would find nothing to want. Otherwise (a pull in
   * progress, a checkpoint elsewhere) pull, as when told to.
   */
  async advance(echo: Echo): Promise<void> {
    const { checkpoints, link } = this.context
    const scope = this.#scope()
    const held = this.pulling ? null : await checkpoints.get(link.info.machineId, scope).catch(() => null)
    if (this.pulling || !held || held.epoch !== echo.epoch || held.seq < echo.from) return this.pull()
    if (held.seq < echo.seq) {
      try {
        await checkpoints.set(link.info.machineId, scope, { epoch: echo.epoch, seq: echo.seq })
      } catch {
        return this.pull()
      }
    }
    this.context.send({ t: "pulled", seq: Math.max(held.seq, echo.seq) })
  }

  #progress(): void {
    this.#progressAt = Date.now()
    if (this.stalled === undefined) return
    this.stalled = undefined
    this.events.changed()
  }

  /**
   * The watchdog of the pull in progress. Busy with a message of the peer's
   * for the whole stall timeout: reported. Waiting on the peer as long: reported,
   * and asked again (a lost or dropped answer, a peer that gave up on it).
   */
  #checkProgress(): void {
    if (this.context.closed() || !this.pulling) return
    const now = Date.now()
    const { stallMs } = this.context.settings
    const busy = this.#handling
    let stalled: string | undefined
    if (busy && now - busy.since >= stallMs) {
      stalled = `handling ${busy.what} from this peer has taken ${seconds(now - busy.since)}`
    } else if (!busy && now - this.#progressAt >= stallMs) {
      const waited = seconds(now - this.#progressAt)
      if (!this.#offer) {
        stalled = `no offer for a pull in ${waited}; pulling again`
        this.#sendPull()
      } else {
        stalled = `no answer for ${this.#outstanding.size} wanted documents in ${waited}; asking again`
        this.#wantQueue.unshift(...[...this.#outstanding].map(([id, have]) => ({ id, have })))
        this.#outstanding.clear()
        this.#progressAt = now
        this.#sendWants()
      }
    }
    if (stalled === undefined) return
    const first = this.stalled === undefined || !busy
    this.stalled = stalled
    // A batch still being handled is reported once; the status keeps counting.
    if (first) this.events.stalled(stalled)
    this.events.changed()
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
}
