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
 *   GET    /api/overview           this machine, types with counts, peers, outgoing connections
 *   GET    /api/docs?type=T        documents of a type, newest first (&deleted=1, &limit=N)
 *   GET    /api/docs/:id           one document (tagged JSON data), its history (newest first), its type definition
 *   POST   /api/docs               create: {type, data}
 *   POST   /api/docs/:id/edit      {op: "set", path, value, force?} | {op: "incr", path, by}
 *                                  | {op: "splice", path, index, del, text} | {op: "settext", path, text}
 *                                  (a set that changes a value's kind where no definition declares it needs force: true)
 *   DELETE /api/docs/:id           soft delete
 *   GET    /api/events             Server-Sent Events: `change`, `resync`, `peers`
 *
 * It answers only this machine unless `allowRemote` is set (see access.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import type { CatalogEntry } from "@cairn/core"
import type { NodePeer } from "../NodePeer.js"
import { refusal } from "./access.js"
import { DashboardApi, statusOf } from "./DashboardApi.js"
import { EventStream } from "./EventStream.js"
import { HttpError, readJson, sendJson } from "./http.js"
import { PeerMemory } from "./PeerMemory.js"
import { NOT_BUILT_PAGE, locateDashboard, serveStatic } from "./staticFiles.js"

export interface DashboardOptions {
  /** The built page's folder; found in @cairn/web when absent (see `locateDashboard`). */
  staticDir?: string
  /** Answer requests from other machines too. The dashboard has no login: only for a network you trust. */
  allowRemote?: boolean
  /** Largest JSON request body, in bytes (default 1 MiB). */
  maxBodyBytes?: number
  /** How often an idle event stream gets a keep-alive comment (default 15 s). */
  keepAliveMs?: number
  /** Where unexpected errors are reported (default: console.error). */
  log?: (message: string) => void
}

/** Document changes within this window go out together, one message per document. */
const CHANGE_BATCH_MS = 50
/** More changed documents than this in one window (a bulk sync) send one `resync` instead. */
const MAX_CHANGES_PER_BATCH = 200
const PEERS_THROTTLE_MS = 200
const CONNECTIONS_POLL_MS = 2000

export class DashboardServer {
  readonly staticDir: string | undefined
  readonly #api: DashboardApi
  readonly #events: EventStream
  readonly #memory = new PeerMemory()
  readonly #options: Required<Omit<DashboardOptions, "staticDir">>
  readonly #stop: (() => void)[] = []
  #pendingChanges = new Map<string, ChangeMessage>()
  #changeTimer: ReturnType<typeof setTimeout> | undefined
  #peersTimer: ReturnType<typeof setTimeout> | undefined
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
      log: options.log ?? (message => console.error(message)),
    }
    this.#api = new DashboardApi(peer, this.#memory)
    this.#events = new EventStream(this.#options.keepAliveMs)
    this.#stop.push(peer.db.on("change", ({ id, type, origin, entry }) => this.#changed({ id, type, origin, ...pick(entry) })))
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
    if (pathname === "/api" || pathname.startsWith("/api/")) return this.#routeApi(method, pathname.slice(4).split("/").slice(1), url.searchParams, request, response)
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, `${method} is not allowed here`)
    if (this.staticDir && (await serveStatic(this.staticDir, pathname, request, response))) return
    if (pathname === "/" || pathname === "/index.html") {
      response.writeHead(503, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" })
      response.end(NOT_BUILT_PAGE)
      return
    }
    throw new HttpError(404, `no such page: ${pathname}`)
  }

  async #routeApi(method: string, parts: string[], query: URLSearchParams, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const api = this.#api
    const route = `${method} /${parts.map((part, i) => (parts[0] === "docs" && i === 1 ? ":id" : part)).join("/")}`
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
      case "DELETE /docs/:id":
        return sendJson(response, 200, await api.delete(id))
      case "POST /docs/:id/edit":
        return sendJson(response, 200, await api.edit(id, await body()))
      case "GET /events":
        return this.#events.open(request, response, { machineId: this.peer.machineId, now: Date.now() })
    }
    const known = ["/overview", "/docs", "/docs/:id", "/docs/:id/edit", "/events"].includes(route.slice(route.indexOf(" ") + 1))
    if (known) throw new HttpError(405, `${method} is not allowed on /api/${parts.join("/")}`)
    throw new HttpError(404, `no API at /api/${parts.join("/")}; see the list in DashboardServer.ts`)
  }

  #fail(response: ServerResponse, error: unknown): void {
    const status = statusOf(error)
    const message = error instanceof Error ? error.message : String(error)
    if (status >= 500) this.#options.log(`dashboard: ${error instanceof Error ? (error.stack ?? message) : message}`)
    if (response.headersSent) {
      response.destroy()
      return
    }
    sendJson(response, status, { error: message })
  }

  #changed(change: ChangeMessage): void {
    if (this.#events.size === 0) return
    this.#pendingChanges.set(change.id, change)
    this.#changeTimer ??= setTimeout(() => {
      this.#changeTimer = undefined
      const changes = [...this.#pendingChanges.values()]
      this.#pendingChanges = new Map()
      if (changes.length > MAX_CHANGES_PER_BATCH) this.#events.send("resync", { count: changes.length, types: [...new Set(changes.map(c => c.type))] })
      else for (const change of changes) this.#events.send("change", change)
    }, CHANGE_BATCH_MS)
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

function pick(entry: CatalogEntry): Pick<ChangeMessage, "modifiedAt" | "deletedAt" | "purged"> {
  return { modifiedAt: entry.modifiedAt, deletedAt: entry.deletedAt, purged: entry.purged === true }
}
