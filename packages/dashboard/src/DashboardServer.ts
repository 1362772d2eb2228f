/**
 * The dashboard of a node peer: the built page and its JSON API, served by
 * the same http.Server as the peer's WebSocket (so one port serves both).
 *
 *   const dashboard = new DashboardServer(peer)
 *   const server = http.createServer(dashboard.handle)
 *   await peer.listen({ host, port, server })
 *   // on shutdown: dashboard.close(); await peer.close(); server.close()
 *
 * The API (JSON in and out; errors are `{ error }` with a 4xx status):
 *
 *   GET    /api/overview           this machine, types with counts, peers, outgoing connections, quarantined count
 *   GET    /api/docs?type=T        a page of a type's documents and how many match (see DocumentQuery.ts): &q=TEXT
 *                                  (in any string, ignoring case), &where=JSON (as db.query), &sort=COLUMN (id,
 *                                  createdAt, modifiedAt or a field path) &order=asc|desc, &offset=N &limit=N, &deleted=1
 *   GET    /api/docs/:id           one document (tagged JSON data), its newest changes, its type definition
 *   GET    /api/docs/:id/history   its changes newest first, each with machine, time, message and a field-level diff
 *                                  (&offset=N &limit=N)
 *   GET    /api/docs/:id/at/:hash  the document as it was just after a change (read-only)
 *   POST   /api/docs/:id/restore   {hash, path}: write a field as it was after that change, as a new change
 *   POST   /api/docs               create: {type, data}
 *   POST   /api/docs/:id/edit      {op: "set", path, value, force?} | {op: "incr", path, by}
 *                                  | {op: "splice", path, index, del, text} | {op: "settext", path, text}
 *                                  (a set that changes a value's kind where no definition declares it needs force: true)
 *   DELETE /api/docs/:id           soft delete
 *   GET    /api/quarantine         documents refused on arrival, with why, newest first (&limit=N)
 *   GET    /api/quarantine/:id     one of them, with its stored document (tagged JSON)
 *   POST   /api/quarantine/:id/release  check it again with the definitions here now: the document,
 *                                  or 409 with why it still fails
 *   POST   /api/quarantine/:id/drop     remove it here (not taken from peers again)
 *   GET    /api/presence           every machine this peer's presence sees: state, links (transport, types), last heard
 *   GET    /api/events             Server-Sent Events: `change`, `quarantine` (state: quarantined,
 *                                  released or dropped), `resync`, `peers`, `presence`
 *
 * It answers only this machine unless `allowRemote` is set (see access.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Logger, NotFoundError, type CatalogEntry, type LogCallback } from "@cairn/core"
import type { NodePeer } from "@cairn/node"
import { refusal } from "./access.js"
import { DashboardApi, statusOf } from "./DashboardApi.js"
import { EventStream } from "./EventStream.js"
import { HttpError, readJson, sendJson } from "./http.js"
import { PeerMemory } from "./PeerMemory.js"
import { NOT_BUILT_PAGE, locateDashboard, serveStatic } from "./staticFiles.js"

export interface DashboardOptions {
  /** The built page's folder; this package's built page when absent (see `locateDashboard`). */
  staticDir?: string
  /** Answer requests from other machines too. The dashboard has no login: only for a network you trust. */
  allowRemote?: boolean
  /** Largest JSON request body, in bytes (default 1 MiB). */
  maxBodyBytes?: number
  /** How often an idle event stream gets a keep-alive comment (default 15 s). */
  keepAliveMs?: number
  /** Where unexpected errors are reported (default: the peer's logger, whose warnings a Node peer prints). */
  log?: LogCallback | Logger
  /**
   * How long a search, filter or sort by a field waits for the list index to
   * read a type's documents before it answers from those read so far, saying
   * so (default 2 s).
   */
  indexWaitMs?: number
}

/** Document changes and quarantines within this window go out together, one message per document. */
const CHANGE_BATCH_MS = 50
/** More messages than this in one window (a bulk sync) send one `resync` instead. */
const MAX_CHANGES_PER_BATCH = 200
const PEERS_THROTTLE_MS = 200
const CONNECTIONS_POLL_MS = 2000

export class DashboardServer {
  readonly staticDir: string | undefined
  readonly #api: DashboardApi
  readonly #events: EventStream
  readonly #memory = new PeerMemory()
  readonly #options: Required<Omit<DashboardOptions, "staticDir" | "log" | "indexWaitMs">>
  readonly #log: Logger
  readonly #stop: (() => void)[] = []
  #pending = new Map<string, PendingMessage>()
  #changeTimer: ReturnType<typeof setTimeout> | undefined
  #peersTimer: ReturnType<typeof setTimeout> | undefined
  #presenceTimer: ReturnType<typeof setTimeout> | undefined
  #lastConnections = ""
  #closed = false

  constructor(
    private readonly peer: NodePeer,
    options: DashboardOptions = {},
  ) {
    this.staticDir = options.staticDir ?? locateDashboard()
    this.#options = {
      allowRemote: options.allowRemote ?? false,
      maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
      keepAliveMs: options.keepAliveMs ?? 15_000,
    }
    // A failure of the server itself (a 500) is a warning: the peer's own logger says it unless the app gave another.
    this.#log = (options.log ? Logger.from(options.log) : peer.peer.logger).child("dashboard")
    this.#api = new DashboardApi(peer, this.#memory, options.indexWaitMs)
    this.#events = new EventStream(this.#options.keepAliveMs)
    this.#stop.push(
      peer.db.on("change", ({ id, type, origin, entry }) => this.#queue({ event: "change", data: { id, type, origin, ...pick(entry) } })),
    )
    this.#stop.push(
      peer.db.on("quarantine", ({ id, type, reason }) =>
        this.#queue({ event: "quarantine", data: { id, type, state: "quarantined", reason } }),
      ),
    )
    this.#stop.push(peer.presence.on("change", () => this.#presenceChanged()))
    this.#stop.push(
      peer.replicator.on("status", status => {
        this.#memory.note(status)
        this.#peersChanged()
      }),
    )
    // PeerNetwork has no event for its outgoing connections' status: look while a page is watching.
    const poll = setInterval(() => {
      if (this.#events.size === 0) return
      const connections = JSON.stringify(peer.network.clients())
      if (connections !== this.#lastConnections) this.#peersChanged()
    }, CONNECTIONS_POLL_MS)
    poll.unref()
    this.#stop.push(() => clearInterval(poll))
  }

  /** How many documents the lists' index holds now (see DocumentIndex.ts). */
  get indexed(): number {
    return this.#api.index.size
  }

  /** The request listener to give the http.Server (bound: pass it as is). */
  readonly handle = (request: IncomingMessage, response: ServerResponse): void => {
    this.#route(request, response).catch(error => this.#fail(response, error))
  }

  /** Stop listening to the peer and end every open event stream. The http.Server is the caller's to close. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const stop of this.#stop.splice(0)) stop()
    clearTimeout(this.#changeTimer)
    clearTimeout(this.#peersTimer)
    clearTimeout(this.#presenceTimer)
    this.#events.close()
  }

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const denied = refusal(request, { allowRemote: this.#options.allowRemote })
    if (denied) throw new HttpError(403, denied)
    if (this.#closed) throw new HttpError(503, "the dashboard is shutting down")
    const url = new URL(request.url ?? "/", "http://dashboard")
    let pathname: string
    try {
      pathname = decodeURIComponent(url.pathname)
    } catch {
      throw new HttpError(400, `malformed path ${JSON.stringify(url.pathname)}`)
    }
    const method = request.method ?? "GET"
    if (pathname === "/api" || pathname.startsWith("/api/"))
      return this.#routeApi(method, pathname.slice(4).split("/").slice(1), url.searchParams, request, response)
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, `${method} is not allowed here`)
    if (this.staticDir && (await serveStatic(this.staticDir, pathname, request, response))) return
    if (pathname === "/" || pathname === "/index.html") {
      response.writeHead(503, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" })
      response.end(NOT_BUILT_PAGE)
      return
    }
    throw new HttpError(404, `no such page: ${pathname}`)
  }

  async #routeApi(
    method: string,
    parts: string[],
    query: URLSearchParams,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const api = this.#api
    const placeholder = (part: string, i: number) =>
      (parts[0] === "docs" || parts[0] === "quarantine") && i === 1
        ? ":id"
        : parts[0] === "docs" && parts[2] === "at" && i === 3
          ? ":hash"
          : part
    const route = `${method} /${parts.map(placeholder).join("/")}`
    const id = parts[1] ?? ""
    const body = () => readJson(request, this.#options.maxBodyBytes)
    switch (route) {
      case "GET /overview":
        return sendJson(response, 200, await api.overview())
      case "GET /docs":
        return sendJson(response, 200, await api.list(query))
      case "POST /docs":
        return sendJson(response, 201, await api.create(await body()))
      case "GET /docs/:id":
        return sendJson(response, 200, await api.document(id))
      case "GET /docs/:id/history":
        this.#entry(id)
        return sendJson(response, 200, await api.history.page(id, query))
      case "GET /docs/:id/at/:hash":
        this.#entry(id)
        return sendJson(response, 200, await api.history.version(id, parts[3] ?? ""))
      case "POST /docs/:id/restore":
        return sendJson(response, 200, await api.restore(id, await body()))
      case "GET /presence":
        return sendJson(response, 200, api.presence())
      case "DELETE /docs/:id":
        return sendJson(response, 200, await api.delete(id))
      case "POST /docs/:id/edit":
        return sendJson(response, 200, await api.edit(id, await body()))
      case "GET /quarantine":
        return sendJson(response, 200, api.quarantined(query))
      case "GET /quarantine/:id":
        return sendJson(response, 200, await api.quarantinedDocument(id))
      case "POST /quarantine/:id/release": {
        const released = await api.release(id)
        // The database says so only as a change; the page also needs to know it left the quarantine.
        this.#queue({ event: "quarantine", data: { id, type: released.document.type, state: "released" } })
        return sendJson(response, 200, released)
      }
      case "POST /quarantine/:id/drop": {
        const dropped = await api.drop(id)
        // A drop is told to no one else: the database has no event for it.
        this.#queue({ event: "quarantine", data: { ...dropped, state: "dropped" } })
        return sendJson(response, 200, dropped)
      }
      case "GET /events":
        return this.#events.open(request, response, { machineId: this.peer.machineId, now: Date.now() })
    }
    const known = [
      "/overview",
      "/docs",
      "/docs/:id",
      "/docs/:id/edit",
      "/docs/:id/history",
      "/docs/:id/at/:hash",
      "/docs/:id/restore",
      "/presence",
      "/quarantine",
      "/quarantine/:id",
      "/quarantine/:id/release",
      "/quarantine/:id/drop",
      "/events",
    ].includes(route.slice(route.indexOf(" ") + 1))
    if (known) throw new HttpError(405, `${method} is not allowed on /api/${parts.join("/")}`)
    throw new HttpError(404, `no API at /api/${parts.join("/")}; see the list in DashboardServer.ts`)
  }

  #fail(response: ServerResponse, error: unknown): void {
    const status = statusOf(error)
    const message = error instanceof Error ? error.message : String(error)
    if (status >= 500) this.#log.warn(`dashboard: ${error instanceof Error ? (error.stack ?? message) : message}`)
    if (response.headersSent) {
      response.destroy()
      return
    }
    sendJson(response, status, { error: message })
  }

  #queue(message: PendingMessage): void {
    if (this.#events.size === 0) return
    // The latest message of each kind per document is the one that counts.
    this.#pending.set(`${message.event} ${message.data.id}`, message)
    this.#changeTimer ??= setTimeout(() => {
      this.#changeTimer = undefined
      const messages = [...this.#pending.values()]
      this.#pending = new Map()
      if (messages.length > MAX_CHANGES_PER_BATCH)
        this.#events.send("resync", { count: messages.length, types: [...new Set(messages.map(m => m.data.type))] })
      else for (const { event, data } of messages) this.#events.send(event, data)
    }, CHANGE_BATCH_MS)
  }

  /** A document's history is read only for a document the catalog lists. */
  #entry(id: string): void {
    const entry = this.peer.db.catalog.get(id)
    if (!entry || entry.purged) throw new NotFoundError(id)
  }

  #presenceChanged(): void {
    if (this.#events.size === 0 || this.#presenceTimer) return
    this.#presenceTimer = setTimeout(() => {
      this.#presenceTimer = undefined
      this.#events.send("presence", this.#api.presence())
    }, PEERS_THROTTLE_MS)
  }

  #peersChanged(): void {
    if (this.#events.size === 0 || this.#peersTimer) return
    this.#peersTimer = setTimeout(() => {
      this.#peersTimer = undefined
      const connections = this.peer.network.clients()
      this.#lastConnections = JSON.stringify(connections)
      this.#events.send("peers", { peers: this.#api.peers(), connections, now: Date.now() })
    }, PEERS_THROTTLE_MS)
  }
}

interface ChangeMessage {
  id: string
  type: string
  origin: string
  modifiedAt: number
  deletedAt: number | null
  purged: boolean
}

interface QuarantineMessage {
  id: string
  type: string
  state: "quarantined" | "released" | "dropped"
  /** Why it was refused (when it is quarantined). */
  reason?: string
}

type PendingMessage = { event: "change"; data: ChangeMessage } | { event: "quarantine"; data: QuarantineMessage }

function pick(entry: CatalogEntry): Pick<ChangeMessage, "modifiedAt" | "deletedAt" | "purged"> {
  return { modifiedAt: entry.modifiedAt, deletedAt: entry.deletedAt, purged: entry.purged === true }
}
