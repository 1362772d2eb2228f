// The Cairn side of every workload, through Cairn's public API: a NodePeer
// on a data directory, its typed database, and its WebSocket replication.
import * as A from "@automerge/automerge"
import { NodePeer } from "@cairn/node"
import { byName, Note, Task, types } from "../types.mjs"
import { clock, inSteps, sleep, sleepUntil, syncExchangeBytes, timed } from "../lib/measure.mjs"

export class CairnDriver {
  peer
  #baselines = new Map()
  #text

  open({ dir, wants = "*", relay = false }) {
    return timed(async () => {
      this.peer = await NodePeer.open({ dir, types: relay ? [] : types, wants, relay })
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
      this.peer = await NodePeer.open({ dir, types })
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

  async close() {
    this.#text?.stop?.()
    await this.peer?.close()
  }
}
