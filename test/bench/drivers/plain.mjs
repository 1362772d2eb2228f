// The plain automerge-repo side of every workload, written the way
// automerge-repo's documentation shows: a Repo with NodeFSStorageAdapter and
// the WebSocket network adapters, `repo.create`, `repo.find`,
// `handle.change`, a share policy that announces everything.
//
// automerge-repo cannot list what is in storage, so this app keeps its own
// index of document ids (ids.json beside the store), as its users must. The
// index has ids only: to know a document's type it has to load it.
import { createHash } from "node:crypto"
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import * as A from "@automerge/automerge"
import { generateAutomergeUrl, parseAutomergeUrl, Repo } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { WebSocketClientAdapter, WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { WebSocketServer } from "ws"
import { chunksOf, clock, headsKey, sleep, sleepUntil, syncExchangeBytes, timed } from "../lib/measure.mjs"
import { loadTrace, rawConcurrent, rawReplay } from "../lib/traces.mjs"

/** Finds in flight at once when loading many documents (faster than one Promise.all over thousands). */
const FIND_BATCH = 500
/** A sync with no message and no document completed for this long has stopped (see syncFrom). */
const STALL_MS = 3 * 60_000

export class PlainDriver {
  repo
  dir
  #storage
  #server
  #ids = new Set()
  #baselines = new Map()
  #text

  /**
   * `announceType`: announce (and give access to) only documents of this
   * type, the nearest plain automerge-repo gets to a type filter: the share
   * policy sees ids only, so it can answer only for documents loaded in memory.
   */
  open(options) {
    return timed(() => this.#open(options))
  }

  async #open({ dir, announceType }) {
    this.dir = dir
    await mkdir(join(dir, "store"), { recursive: true })
    this.#storage = new NodeFSStorageAdapter(join(dir, "store"))
    const typeOf = documentId => {
      const handle = this.repo.handles[documentId]
      return handle?.isReady() ? handle.doc()?.type : undefined
    }
    const shareConfig = announceType
      ? {
          announce: async (_peer, documentId) => typeOf(documentId) === announceType,
          access: async (_peer, documentId) => typeOf(documentId) === announceType,
        }
      : undefined
    this.repo = new Repo({ storage: this.#storage, network: [], ...(shareConfig ? { shareConfig } : { sharePolicy: async () => true }) })
    for (const id of await readIndex(dir)) this.#ids.add(id)
    return { size: this.#ids.size }
  }

  async listen() {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
    await new Promise((resolve, reject) => wss.once("listening", resolve).once("error", reject))
    // `ws`'s server is not assignable to the adapter's isomorphic-ws type; it is the same object at run time.
    this.repo.networkSubsystem.addNetworkAdapter(new WebSocketServerAdapter(wss))
    this.#server = wss
    return { port: wss.address().port }
  }

  connect({ url }) {
    this.repo.networkSubsystem.addNetworkAdapter(new WebSocketClientAdapter(url))
  }

  /** Create `count` documents, cycling through `typeNames`, then flush; `chunk` documents between flushes. */
  create({ count, typeNames = ["task"], chunk = count }) {
    return timed(async () => {
      for (let start = 0; start < count; start += chunk) {
        for (let i = start; i < Math.min(count, start + chunk); i++) {
          const type = typeNames[i % typeNames.length]
          this.#ids.add(this.repo.create({ type, title: `${type} ${i}`, done: false }).documentId)
        }
        await this.repo.flush()
        if (start + chunk < count) await new Promise(resolve => setImmediate(resolve))
      }
      await this.#writeIndex()
    })
  }

  /**
   * Write `count` documents straight into an empty directory in the layout
   * repo.create + repo.flush produce (Automerge.from of the same value, one
   * snapshot per document named by the hash of its heads, as
   * automerge-repo's StorageSubsystem names it), plus the id index. For
   * fixtures only: creating 10,000 through the repo takes minutes, because
   * NodeFSStorageAdapter scans its whole cache on every loadRange and
   * removeRange. W1 measures the repo path.
   */
  async writeDocuments({ dir, count, typeNames = ["task"] }) {
    const store = join(dir, "store")
    const ids = []
    for (let i = 0; i < count; i++) {
      const type = typeNames[i % typeNames.length]
      const doc = A.from({ type, title: `${type} ${i}`, done: false })
      const id = parseAutomergeUrl(generateAutomergeUrl()).documentId
      const name = createHash("sha256").update(A.getHeads(doc).join("")).digest("hex")
      const folder = join(store, id.slice(0, 2), id.slice(2), "snapshot")
      await mkdir(folder, { recursive: true })
      await writeFile(join(folder, name), A.save(doc))
      ids.push(id)
    }
    await writeFile(join(dir, "ids.json"), JSON.stringify(ids))
    return { count }
  }

  entries() {
    const out = []
    for (const id of this.#ids) {
      const handle = this.repo.handles[id]
      if (!handle?.isReady()) continue
      const doc = handle.doc()
      out.push({ id, type: doc.type, heads: A.getHeads(doc) })
    }
    return out
  }

  /** Load every document in the index (finds in batches). */
  loadAll() {
    return timed(async () => {
      let count = 0
      for (const batch of chunksOf([...this.#ids], FIND_BATCH)) {
        const handles = await Promise.all(batch.map(id => this.repo.find(id)))
        for (const handle of handles) if (handle.doc()) count++
      }
      return { count }
    })
  }

  /** Open a directory and list one type (W4): every document must be loaded to learn its type. */
  openList({ dir, type }) {
    return timed(async () => {
      await this.#open({ dir })
      const docs = []
      for (const batch of chunksOf([...this.#ids], FIND_BATCH)) {
        for (const handle of await Promise.all(batch.map(id => this.repo.find(id)))) {
          const doc = handle.doc()
          if (doc.type === type) docs.push(doc)
        }
      }
      return { count: docs.length }
    })
  }

  /**
   * Connect and wait until every expected document has the expected heads
   * here, then flush them to disk. Gives up after `timeoutMs`, or once
   * nothing has arrived and no document has completed for STALL_MS: with a
   * sink busy loading thousands of documents, automerge-repo 2.5.6 can leave
   * a document's sync stopped until the next reconnect (BENCHMARKS.md, W3).
   */
  syncFrom({ url, expect, timeoutMs }) {
    return timed(async () => {
      const pending = new Map(expect.map(e => [e.id, headsKey(e.heads)]))
      for (const e of expect) this.#ids.add(e.id)
      const deadline = performance.now() + timeoutMs
      let lastProgress = performance.now()
      const onMessage = () => (lastProgress = performance.now())
      this.repo.networkSubsystem.on("message", onMessage)
      try {
        this.connect({ url })
        while (pending.size > 0) {
          for (const [id, heads] of pending) {
            const handle = this.repo.handles[id]
            if (handle?.isReady() && headsKey(A.getHeads(handle.doc())) === heads) {
              pending.delete(id)
              lastProgress = performance.now()
            }
          }
          if (pending.size === 0) break
          const now = performance.now()
          if (now > deadline) return { timedOut: true, count: expect.length - pending.size }
          if (now - lastProgress > STALL_MS) return { timedOut: true, stalled: true, count: expect.length - pending.size }
          await sleep(pending.size > 100 ? 20 : 2)
        }
      } finally {
        this.repo.networkSubsystem.off("message", onMessage)
      }
      await this.repo.flush(expect.map(e => e.id))
      await this.#writeIndex()
      return { count: expect.length }
    })
  }

  heads({ ids }) {
    return ids.map(id => {
      const handle = this.repo.handles[id]
      return { id, heads: handle?.isReady() ? A.getHeads(handle.doc()) : [] }
    })
  }

  async changeSome({ ids }) {
    const handles = await Promise.all(ids.map(id => this.repo.find(id)))
    for (const handle of handles) {
      if (!this.#baselines.has(handle.documentId)) this.#baselines.set(handle.documentId, A.save(handle.doc()))
      handle.change(doc => {
        doc.done = !doc.done
      })
    }
    await this.repo.flush(ids)
    let referenceBytes = 0
    const heads = []
    for (const handle of handles) {
      referenceBytes += syncExchangeBytes(handle.doc(), A.load(this.#baselines.get(handle.documentId)))
      heads.push({ id: handle.documentId, heads: A.getHeads(handle.doc()) })
    }
    return { heads, referenceBytes }
  }

  /** W6: `count` small changes with handle.change over `docs` documents, then flushed to disk. */
  async changes({ docs, count }) {
    const handles = Array.from({ length: docs }, (_, i) => this.repo.create({ type: "task", title: `task ${i}`, done: false }))
    await this.repo.flush()
    return timed(async () => {
      for (let i = 0; i < count; i++)
        handles[i % docs].change(doc => {
          doc.done = !doc.done
        })
      await this.repo.flush()
    })
  }

  async savedBytes() {
    let bytes = 0
    for (const id of this.#ids) bytes += A.save((await this.repo.find(id)).doc()).byteLength
    return { bytes }
  }

  /** The stored chunks of every document, concatenated per document, read through the storage adapter. */
  async storedBytes() {
    const out = []
    for (const id of this.#ids) {
      const chunks = [...(await this.#storage.loadRange([id, "snapshot"])), ...(await this.#storage.loadRange([id, "incremental"]))]
      out.push(Buffer.concat(chunks.filter(c => c.data).map(c => c.data)))
    }
    return out
  }

  // --- W7: live text ---

  async textCreate() {
    const handle = this.repo.create({ type: "note", body: "" })
    await this.repo.flush([handle.documentId])
    return { id: handle.documentId }
  }

  async textOpen({ id, theirs }) {
    const handle = await this.repo.find(id)
    const text = (this.#text = { handle, arrivals: [], length: 0 })
    const code = theirs.charCodeAt(0)
    const record = doc => {
      const now = clock()
      const body = doc.body
      text.length = body.length
      let seen = 0
      for (let i = 0; i < body.length; i++) if (body.charCodeAt(i) === code) seen++
      while (text.arrivals.length < seen) text.arrivals.push(now)
    }
    handle.on("change", ({ doc }) => record(doc))
    record(handle.doc())
    return { ok: true }
  }

  async typeKeys({ count, intervalMs, startAt, char }) {
    const handle = this.#text.handle
    const sent = []
    for (let k = 0; k < count; k++) {
      await sleepUntil(startAt + k * intervalMs)
      sent.push(clock())
      handle.change(doc => A.splice(doc, ["body"], doc.body.length, 0, char))
    }
    return { sent }
  }

  textReport() {
    return { arrivals: this.#text.arrivals, length: this.#text.length }
  }

  async #writeIndex() {
    await writeFile(join(this.dir, "ids.json"), JSON.stringify([...this.#ids]))
  }

  // --- T1: editing traces, raw Automerge (no repo) ---

  /** A sequential trace through A.change + A.splice, `step` transactions between time marks (as Cairn's side has in flight). */
  textTrace({ name, limit, step = 1000 }) {
    return rawReplay(loadTrace(name, limit), step)
  }

  /** A concurrent trace between one Automerge document per writer (see lib/traces.mjs). */
  concurrentTrace({ name }) {
    return rawConcurrent(loadTrace(name))
  }

  async close() {
    if (!this.repo) return
    await this.#writeIndex()
    await this.repo.shutdown().catch(() => {})
    if (this.#server) await new Promise(resolve => this.#server.close(() => resolve()))
  }
}

async function readIndex(dir) {
  try {
    return JSON.parse(await readFile(join(dir, "ids.json"), "utf8"))
  } catch {
    return []
  }
}
