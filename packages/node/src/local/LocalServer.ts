/**
 * The machine's peer, for the apps on the machine: the peer holding a data
 * directory listens on `<dir>/cairn.sock` (see wire.ts), so an app (through
 * `openLocal`) or a `cairn` command reaches it instead of failing on the
 * directory's lock or writing behind its back.
 *
 * Who may connect: the socket is made with mode 0600 (never wider, not even
 * for a moment: the umask is narrowed while it is bound), so only this
 * user (and root) can connect; clients check that its owner is their own
 * user before they connect. Everything a connection sends is bounded and
 * checked: one line is at most MAX_REQUEST_CHARS, a malformed request or an
 * unknown method is an error answer, a connection that does not read its
 * events is closed, and writes go through the same checks as a peer's.
 */
import { chmod, stat, unlink } from "node:fs/promises"
import { createServer, type Server, type Socket } from "node:net"
import { join } from "node:path"
import type { Database, Logger } from "@cairn/core"
import type { DataDirectory } from "../DataDirectory.js"
import { appMethods } from "./LocalMethods.js"
import { encodeError, LocalPeerError, lineReader, MAX_REQUEST_CHARS, SOCKET_NAME, type Answer, type Request } from "./wire.js"

/** What the local server serves from: a peer's database and its data directory. */
export interface LocalHost {
  readonly db: Database
  readonly directory: DataDirectory
}

/** What a method may do beyond answering: open a stream of events, named by its request's id, stopped by `stop` or by the connection closing. */
export interface MethodContext {
  stream(start: (emit: (event: unknown) => void) => () => void): void
}

/** One method of the local protocol: checks its params, does its work, resolves with the answer's result. */
export type LocalMethod = (params: Record<string, unknown>, context: MethodContext) => Promise<unknown>

/** Streams one connection may hold open at once. */
const MAX_STREAMS = 1024
/** Answers and events queued for a connection that does not read them, before it is closed. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024

export class LocalServer {
  readonly #connections = new Set<Socket>()
  readonly #methods: Record<string, LocalMethod>

  private constructor(
    private readonly server: Server,
    readonly path: string,
    host: LocalHost,
  ) {
    this.#methods = appMethods(host, () => Object.keys(this.#methods))
    server.on("connection", socket => this.#serve(socket))
  }

  /** Listen on `<dir>/cairn.sock` for the peer that holds the directory (a socket left by one that died is replaced). */
  static async start(host: LocalHost, log?: Logger): Promise<LocalServer> {
    const path = join(host.directory.path, SOCKET_NAME)
    const mode = (await stat(host.directory.path)).mode
    if (mode & 0o022)
      log?.warn(`local: ${host.directory.path} can be written by other users, who could replace ${SOCKET_NAME}; chmod 700 it`)
    await unlink(path).catch(() => {})
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      // The socket is bound inside listen(): with this umask it is never, even for a moment, connectable by others.
      // (A worker thread cannot set the umask: there the chmod below and the directory's own mode protect it.)
      const umask = narrowUmask()
      try {
        server.listen(path, () => resolve())
      } finally {
        if (umask !== undefined) process.umask(umask)
      }
    })
    await chmod(path, 0o600)
    return new LocalServer(server, path, host)
  }

  /**
   * Add a method (the CLI adds `command`, which runs a `cairn` command on the peer). A client learns from
   * `hello` which methods this peer has.
   */
  handle(name: string, method: LocalMethod): void {
    this.#methods[name] = method
  }

  /** How many clients are connected now. */
  get connections(): number {
    return this.#connections.size
  }

  /** Stop listening, close every connection (their streams stop), and remove the socket. */
  async close(): Promise<void> {
    const closed = new Promise<void>(resolve => this.server.close(() => resolve()))
    for (const socket of this.#connections) socket.destroy()
    await closed
    await unlink(this.path).catch(() => {})
  }

  #serve(socket: Socket): void {
    this.#connections.add(socket)
    const streams = new Map<number | string, () => void>()
    const send = (answer: Answer) => {
      if (socket.destroyed) return
      if (socket.writableLength > MAX_QUEUED_BYTES) return void socket.destroy()
      socket.write(JSON.stringify(answer) + "\n")
    }
    const fail = (id: Request["id"] | null, error: unknown) => send({ id, ok: false, error: encodeError(error) })
    socket.setEncoding("utf8")
    socket.on("error", () => {})
    socket.on("close", () => {
      this.#connections.delete(socket)
      for (const stop of streams.values()) stop()
      streams.clear()
    })
    const onLine = (line: string) => {
      let request: Partial<Request>
      try {
        request = JSON.parse(line)
      } catch {
        return fail(null, new LocalPeerError("malformed request: a line is not JSON"))
      }
      const id = typeof request?.id === "number" || typeof request?.id === "string" ? request.id : null
      if (id === null || typeof request.method !== "string")
        return fail(id, new LocalPeerError('malformed request: it needs an "id" (number or string) and a "method" (string)'))
      const params = request.params ?? {}
      if (typeof params !== "object" || params === null || Array.isArray(params))
        return fail(id, new LocalPeerError(`malformed request: the params of ${request.method} must be an object`))
      if (request.method === "stop") {
        const stop = streams.get(params.stream as number)
        streams.delete(params.stream as number)
        stop?.()
        return send({ id, ok: true, result: { stopped: stop !== undefined } })
      }
      const method = Object.hasOwn(this.#methods, request.method) ? this.#methods[request.method] : undefined
      if (!method) return fail(id, new LocalPeerError(`unknown method ${JSON.stringify(request.method)}`))
      const context: MethodContext = {
        stream: start => {
          if (streams.has(id)) throw new LocalPeerError(`request id ${JSON.stringify(id)} already names an open stream`)
          if (streams.size >= MAX_STREAMS) throw new LocalPeerError(`a connection may hold at most ${MAX_STREAMS} streams open`)
          if (socket.destroyed) return
          streams.set(
            id,
            start(event => send({ stream: id, event })),
          )
        },
      }
      Promise.resolve()
        .then(() => method(params as Record<string, unknown>, context))
        .then(
          result => send({ id, ok: true, result: result ?? null }),
          error => fail(id, error),
        )
    }
    socket.on(
      "data",
      lineReader(MAX_REQUEST_CHARS, onLine, () => {
        fail(null, new LocalPeerError(`request too long: a line may be at most ${MAX_REQUEST_CHARS} characters; closing the connection`))
        socket.end()
      }),
    )
  }
}

/** Set the umask so new files are for this user only; returns the one before, or undefined where it cannot be set. */
function narrowUmask(): number | undefined {
  try {
    return process.umask(0o177)
  } catch {
    return undefined
  }
}
