// The Cairn side of every workload, through Cairn's public API: a NodePeer
// on a data directory, its typed database, and its WebSocket replication.
// Every open passes `publishDefinitions: false`: the workloads compare N
// documents with plain automerge-repo's N, and the schema documents a peer
// publishes on open would be more (their cost at open is what
// test/bench/open-publish.mjs measures).
import * as A from "@automerge/automerge"
import { makeVouch, packVouches } from "@cairn/core"
import { NodePeer } from "@cairn/node"
import { byName, Note, Task, types } from "../types.mjs"
import { clock, inSteps, sleep, sleepUntil, syncExchangeBytes, timed } from "../lib/measure.mjs"
import { loadTrace, replayConcurrent, replayInSteps, timeLoad } from "../lib/traces.mjs"

export class CairnDriver {
  peer
  #baselines = new Map()
  #text

  open({ dir, wants = "*", relay = false }) {
    return timed(async () => {
      this.peer = await NodePeer.open({ dir, types: relay ? [] : types, wants, relay, publishDefinitions: false })
      return { size: this.peer.db.catalog.size }
    })
  }

  async listen() {
    const { port } = await this.peer.listen({ port: 0 })
    return { port }
  }

  connect({ url }) {
    this.peer.connect(url)
  }

  /**
   * Create `count` documents, cycling through `typeNames`; `chunk` documents
   * are in flight at a time. `first` numbers them on from an earlier session.
   */
  create({ count, typeNames = ["task"], chunk = count, first = 0 }) {
    const db = this.peer.db
    return timed(async () => {
      for (let start = first; start < first + count; start += chunk) {
        const batch = []
        for (let i = start; i < Math.min(first + count, start + chunk); i++) {
          const type = byName.get(typeNames[i % typeNames.length])
          batch.push(db.create(type, { title: `${type.name} ${i}` }))
        }
        await Promise.all(batch)
      }
    })
  }

  /**
   * Create `count` tasks in steps of `step`, timing each step: one
   * `db.transaction` per step, or (`each`) one `db.create` per document, a
   * step in flight at a time. Stops after the step that passes `budgetMs`.
   */
  createSeries({ count, step = 1000, each = false, budgetMs }) {
    const db = this.peer.db
    return timed(() =>
      inSteps({ count, step, budgetMs }, (first, n) => {
        const titles = Array.from({ length: n }, (_, k) => `task ${first + k}`)
        if (each) return Promise.all(titles.map(title => db.create(Task, { title })))
        return db.transaction(tx => titles.forEach(title => tx.create(Task, { title })))
      }),
    )
  }

  entries() {
    return [...this.peer.db.catalog.entries()].map(e => ({ id: e.id, type: e.type, heads: e.heads }))
  }

  /** Load every document into memory, the way an app reads them all: a list of each type. */
  loadAll() {
    const db = this.peer.db
    return timed(async () => {
      let count = 0
      for (const { type } of db.types()) count += (await db.list(type)).length
      return { count }
    })
  }

  /** Open a data directory and list one type (W4): both inside the timing. */
  openList({ dir, type }) {
    return timed(async () => {
      this.peer = await NodePeer.open({ dir, types, publishDefinitions: false })
      const docs = await this.peer.db.list(byName.get(type))
      return { count: docs.length }
    })
  }

  /** Connect and wait until in sync both ways (everything pulled, on disk). */
  syncFrom({ url, timeoutMs }) {
    return timed(async () => {
      this.peer.connect(url)
      try {
        await this.peer.whenSynced(timeoutMs)
      } catch {
        return { timedOut: true, count: this.peer.db.catalog.size }
      }
      return { count: this.peer.db.catalog.size }
    })
  }

  /** Heads of the given documents, as this peer's catalog has them. */
  heads({ ids }) {
    return ids.map(id => ({ id, heads: this.peer.db.catalog.get(id)?.heads ?? [] }))
  }

  /**
   * Change the given documents (W3) and report their new heads and the bytes
   * of the Automerge sync messages that bring their first-seen state up to date.
   */
  async changeSome({ ids }) {
    const db = this.peer.db
    for (const id of ids) {
      if (!this.#baselines.has(id)) this.#baselines.set(id, A.save((await db.replica.store.handle(id)).doc()))
    }
    await Promise.all(
      ids.map(id =>
        db.change(Task, id, draft => {
          draft.done = !draft.done
        }),
      ),
    )
    let referenceBytes = 0
    const heads = []
    for (const id of ids) {
      const doc = (await db.replica.store.handle(id)).doc()
      referenceBytes += syncExchangeBytes(doc, A.load(this.#baselines.get(id)))
      heads.push({ id, heads: A.getHeads(doc) })
    }
    return { heads, referenceBytes }
  }

  /** W6: `count` small changes through the typed API, spread over `docs` documents, all acknowledged (on disk). */
  async changes({ docs, count }) {
    const db = this.peer.db
    const ids = (await Promise.all(Array.from({ length: docs }, (_, i) => db.create(Task, { title: `task ${i}` })))).map(d => d.id)
    await db.replica.flush()
    return timed(async () => {
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          db.change(Task, ids[i % docs], draft => {
            draft.done = !draft.done
          }),
        ),
      )
    })
  }

  /** Sum of Automerge.save over every document (what the documents themselves weigh). */
  async savedBytes() {
    const db = this.peer.db
    let bytes = 0
    for (const entry of db.catalog.entries()) bytes += A.save((await db.replica.store.handle(entry.id)).doc()).byteLength
    return { bytes }
  }

  /** The stored bytes of every document, read through the peer's storage (for the raw-load floor). */
  async storedBytes() {
    const db = this.peer.db
    const out = []
    for (const entry of db.catalog.entries()) out.push(await db.replica.store.readStored(entry.id))
    return out
  }

  // --- W7: live text ---

  async textCreate() {
    const doc = await this.peer.db.create(Note, { body: "" })
    return { id: doc.id }
  }

  /** Subscribe to the note (waiting for it to arrive), recording when each of the other peer's keystrokes shows up. */
  async textOpen({ id, theirs, timeoutMs = 30_000 }) {
    const db = this.peer.db
    const deadline = Date.now() + timeoutMs
    while (!db.catalog.has(id)) {
      if (Date.now() > deadline) throw new Error(`note ${id} never arrived`)
      await sleep(5)
    }
    const text = (this.#text = { id, arrivals: [], length: 0 })
    const code = theirs.charCodeAt(0)
    this.#text.stop = db.subscribe(id, doc => {
      if (!doc) return
      const now = clock()
      const body = doc.data.body
      text.length = body.length
      let seen = 0
      for (let i = 0; i < body.length; i++) if (body.charCodeAt(i) === code) seen++
      while (text.arrivals.length < seen) text.arrivals.push(now)
    })
    return { ok: true }
  }

  /** Type `count` characters at the end of the note, one every `intervalMs`, starting at clock time `startAt`. */
  async typeKeys({ count, intervalMs, startAt, char }) {
    const db = this.peer.db
    const id = this.#text.id
    const sent = []
    const acks = []
    for (let k = 0; k < count; k++) {
      await sleepUntil(startAt + k * intervalMs)
      sent.push(clock())
      acks.push(db.change(Note, id, draft => draft.body.splice(draft.body.length, 0, char)))
    }
    await Promise.all(acks)
    return { sent }
  }

  textReport() {
    return { arrivals: this.#text.arrivals, length: this.#text.length }
  }

  // --- T1: editing traces through the typed API ---

  /**
   * Replay a sequential trace into a note on a new peer at `dir`: one
   * db.change per transaction, `step` in flight at a time. Then open the
   * directory again and time reading the note back (db.get, its text
   * read) against A.load of the same stored bytes.
   */
  async textTrace({ name, limit, dir, step = 1000 }) {
    const trace = loadTrace(name, limit)
    let peer = await NodePeer.open({ dir, types, publishDefinitions: false })
    const { id } = await peer.db.create(Note, { body: trace.startContent ?? "" })
    const { db } = peer
    const replay = await replayInSteps(trace.txns, step, (from, to) =>
      Promise.all(
        trace.txns.slice(from, to).map(txn =>
          db.change(Note, id, draft => {
            for (const [at, del, ins] of txn.patches) draft.body.splice(at, del, ins)
          }),
        ),
      ),
    )
    const body = (await db.get(Note, id)).data.body
    if (body !== trace.endContent) throw new Error(`the note ended at a text of ${body.length} characters, not the trace's end`)
    await peer.close()
    peer = await NodePeer.open({ dir, types, publishDefinitions: false })
    const bytes = await peer.db.replica.store.readStored(id)
    const rawBefore = timeLoad(bytes, doc => doc.data.body.length)
    const started = performance.now()
    const loaded = await peer.db.get(Note, id)
    const loadMs = performance.now() - started
    if (loaded.data.body !== trace.endContent) throw new Error("the note read back is not the text written")
    const rawAfter = timeLoad(bytes, doc => doc.data.body.length)
    this.peer = peer
    return { ...replay, loadMs, rawLoadMs: (rawBefore + rawAfter) / 2, bytes: bytes.byteLength }
  }

  /**
   * Replay a concurrent trace between two peers (two databases in this
   * process, each on its own directory in `dirs`): each writer's
   * transactions are db.change calls on its peer, and the other's changes
   * reach it through the replication path (db.replica.ingest, checked as
   * any change from a peer), exactly those the transaction had seen.
   */
  async concurrentTrace({ name, dirs }) {
    const trace = loadTrace(name)
    const peers = await Promise.all(dirs.map(dir => NodePeer.open({ dir, types, publishDefinitions: false })))
    try {
      const { id } = await peers[0].db.create(Note, { body: "" })
      const created = await peers[0].db.replica.store.readStored(id)
      const vouched = packVouches(await peers[0].db.replica.vouchesFor(id))
      for (const peer of peers.slice(1)) await peer.db.replica.ingest([{ id, bytes: created, vouches: vouched }])
      const pending = peers.map(() => [])
      // The creation is no writer's transaction: each writer's own changes are counted from after it.
      const createdHeads = A.getHeads(A.load(created))
      const own = peers.map(() => ({ heads: createdHeads, changes: [] }))
      const docOf = async w => (await peers[w].db.replica.store.handle(id)).doc()
      return await replayConcurrent(trace, {
        change: (w, txn) => {
          pending[w].push(
            peers[w].db.change(Note, id, draft => {
              for (const [at, del, ins] of txn.patches) draft.body.splice(at, del, ins)
            }),
          )
        },
        settle: async w => {
          await Promise.all(pending[w].splice(0))
        },
        changesOf: async w => {
          const doc = await docOf(w)
          const actor = A.getActorId(doc)
          for (const change of A.getBackend(doc).getChanges(own[w].heads))
            if (A.decodeChange(change).actor === actor) own[w].changes.push(change)
          own[w].heads = A.getHeads(doc)
          return own[w].changes
        },
        // With the writer's vouch for the last of them (identity/vouch.ts), as live sync sends it.
        deliver: async (w, changes) => {
          const vouch = await makeVouch(peers[1 - w].db.machine, id, A.decodeChange(changes.at(-1)).hash)
          return peers[w].db.replica.ingest([{ id, bytes: concat(changes), vouches: vouch }])
        },
        text: async w => (await peers[w].db.get(Note, id)).data.body,
      })
    } finally {
      await Promise.all(peers.map(peer => peer.close()))
    }
  }

  async close() {
    this.#text?.stop?.()
    await this.peer?.close()
  }
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}
