// The PouchDB side of the P workloads, set up as its users run it: pouchdb-node
// (LevelDB) on a data directory; a server process serves its database over
// HTTP with express-pouchdb (gzip through its compression middleware, on in
// every mode); a client replicates with it through PouchDB's own replicator.
//
// Durability differs from Cairn's: PouchDB's LevelDB writes without fsync, so
// "done" here means written to LevelDB (in the OS page cache), where Cairn's
// means on disk. See BENCHMARKS.md.
import { createRequire } from "node:module"
import { join } from "node:path"
import { inSteps, timed } from "../lib/measure.mjs"

const require = createRequire(import.meta.url)
const PouchDB = require("pouchdb-node")
const express = require("express")
const expressPouchDB = require("express-pouchdb")

/** The database every server serves and every client replicates into. */
const NAME = "db"
/** The design document whose filter the filtered workload uses. */
export const DESIGN = { _id: "_design/app", filters: { byType: "function (doc, req) { return doc.type === req.query.type }" } }

export class PouchDriver {
  db
  #dir
  #server

  open({ dir }) {
    this.#dir = dir
    return timed(async () => {
      this.db = new PouchDB(join(dir, NAME))
      return { size: (await this.db.info()).doc_count }
    })
  }

  /**
   * Serve this database over HTTP, express-pouchdb's minimal mode for
   * PouchDB clients (compression included). Its `_changes` route passes on
   * the `doc_ids` a client POSTs but drops a Mango `selector`, so a selector
   * replication fails with "missing"; the route in front passes it on, as
   * CouchDB takes it.
   */
  async listen() {
    const Server = PouchDB.defaults({ prefix: `${this.#dir}/` })
    const app = express()
    app.post("/:db/_changes", express.json({ limit: "1mb" }), (req, _res, next) => {
      if (req.body?.selector) req.query.selector = req.body.selector
      next()
    })
    app.use(expressPouchDB(Server, { mode: "minimumForPouchDB", inMemoryConfig: true }))
    this.#server = await new Promise((resolve, reject) => {
      const server = app.listen(0, "127.0.0.1", () => resolve(server)).on("error", reject)
    })
    return { port: this.#server.address().port }
  }

  /**
   * Create `count` documents of the Cairn workloads' shape (`type`, `title`,
   * `done`), cycling through `typeNames`, with `bulkDocs` of `chunk` at a time.
   * With `design`, the filter's design document too.
   */
  create({ count, typeNames = ["task"], chunk = 1000, first = 0, design = false }) {
    return timed(async () => {
      for (let start = first; start < first + count; start += chunk) {
        const docs = []
        for (let i = start; i < Math.min(first + count, start + chunk); i++) docs.push(doc(typeNames[i % typeNames.length], i))
        await this.db.bulkDocs(docs)
      }
      if (design) await this.db.put(DESIGN)
    })
  }

  /**
   * Create `count` documents in steps of `step`, timing each step: `bulkDocs`
   * of the step, or (`each`) one `post` per document, a step in flight at a
   * time. Stops after the step that passes `budgetMs`.
   */
  createSeries({ count, step = 1000, each = false, budgetMs }) {
    return timed(() =>
      inSteps({ count, step, budgetMs }, async (first, n) => {
        const docs = Array.from({ length: n }, (_, k) => doc("task", first + k))
        if (each) await Promise.all(docs.map(d => this.db.post(d)))
        else await this.db.bulkDocs(docs)
      }),
    )
  }

  /** Every document but design documents, with its type and current revision. */
  async entries() {
    const { rows } = await this.db.allDocs({ include_docs: true })
    return rows.filter(r => !r.id.startsWith("_design/")).map(r => ({ id: r.id, type: r.doc.type, heads: [r.value.rev] }))
  }

  /**
   * Replicate with the server at `url` (a ws:// or http:// address of its
   * host and port) until done. By default `db.sync` both ways, as an app
   * keeps its copy in step; with `pull`, or filtered, pull only
   * (`replicate.from`). `filter` names the design document's filter (with
   * `type` as its query parameter); `selector` is a Mango selector.
   * `server` is the server's own port when `url` is a tap in front of it.
   */
  syncFrom({ url, server, timeoutMs, filter, selector, type, pull = false }) {
    const remote = this.#remote(url, server)
    return timed(async () => {
      const options = filter ? { filter, query_params: { type } } : selector ? { selector } : {}
      const replication = pull || filter || selector ? this.db.replicate.from(remote, options) : this.db.sync(remote, options)
      const timer = setTimeout(() => replication.cancel(), timeoutMs)
      let timedOut = false
      replication.on("complete", info => (timedOut = info.status === "cancelled" || info.pull?.status === "cancelled"))
      try {
        await replication
      } finally {
        clearTimeout(timer)
        await remote.close()
      }
      return { timedOut, count: (await this.db.info()).doc_count }
    })
  }

  /**
   * The server's database, named by the server's own address (`server`, its
   * port) and reached through `url`. PouchDB keys its replication checkpoints
   * by the remote's name (express-pouchdb's minimal mode reports no server
   * uuid), so naming it by the tap's port, new for every connection, would
   * make every reconnect start from scratch, which no app sees. Requests go
   * through PouchDB's own fetch (node-fetch), as they would without this.
   */
  #remote(url, server) {
    const via = new URL(url.replace(/^ws/, "http"))
    if (!server) return new PouchDB(`${via.origin}/${NAME}`)
    const origin = `http://127.0.0.1:${server}`
    return new PouchDB(`${origin}/${NAME}`, {
      fetch: (target, options) => PouchDB.fetch(String(target).replace(origin, via.origin), options),
    })
  }

  /** Current revisions of the given documents. */
  async heads({ ids }) {
    const { rows } = await this.db.allDocs({ keys: ids })
    return rows.map(r => ({ id: r.key, heads: r.value ? [r.value.rev] : [] }))
  }

  /** Flip `done` on the given documents (the reconnect workload); their new revisions. */
  async changeSome({ ids }) {
    const { rows } = await this.db.allDocs({ keys: ids, include_docs: true })
    const results = await this.db.bulkDocs(rows.map(r => ({ ...r.doc, done: !r.doc.done })))
    return { heads: results.map(r => ({ id: r.id, heads: [r.rev] })), referenceBytes: 0 }
  }

  async close() {
    await new Promise(resolve => (this.#server ? this.#server.close(resolve) : resolve()))
    await this.db?.close()
  }
}

const doc = (type, i) => ({ type, title: `${type} ${i}`, done: false })
