/**
 * The local process API: while `cairn serve` runs on a data directory, other
 * `cairn` commands on that directory send their request here (a Unix socket
 * in the directory, mode 0600) instead of failing on the lock or writing
 * behind the server's back. Requests and answers are JSON lines.
 */
import { chmod, unlink } from "node:fs/promises"
import { createServer, type Server, type Socket } from "node:net"
import { join } from "node:path"
import type { NodePeer } from "@cairn/node"
import { commands, type Request } from "./commands.js"
import { errorLine, exitCodeOf } from "./errors.js"

export const SOCKET_NAME = "cairn.sock"

export type Answer = { ok: true; result: unknown } | { ok: false; error: string; exitCode: number } | { event: unknown }

export class LocalServer {
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  /** Listen on `<dir>/cairn.sock` (a stale socket from a dead server is replaced). */
  static async start(peer: NodePeer): Promise<LocalServer> {
    const path = join(peer.directory.path, SOCKET_NAME)
    await unlink(path).catch(() => {})
    const server = createServer(socket => serve(peer, socket))
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(path, () => resolve())
    })
    await chmod(path, 0o600)
    return new LocalServer(server, path)
  }

  async close(): Promise<void> {
    await new Promise<void>(resolve => this.server.close(() => resolve()))
    await unlink(this.path).catch(() => {})
  }
}

function serve(peer: NodePeer, socket: Socket): void {
  let buffer = ""
  socket.setEncoding("utf8")
  socket.on("error", () => {})
  socket.on("data", chunk => {
    buffer += chunk
    const newline = buffer.indexOf("\n")
    if (newline < 0) return
    const line = buffer.slice(0, newline)
    socket.removeAllListeners("data")
    let request: Request
    try {
      request = JSON.parse(line)
    } catch {
      return socket.end(JSON.stringify({ ok: false, error: "cairn: malformed request", exitCode: 2 }) + "\n")
    }
    if (request.command === "watch") return watch(peer, socket, request)
    const command = commands[request.command]
    if (!command) return socket.end(JSON.stringify({ ok: false, error: `cairn: unknown command ${request.command}`, exitCode: 2 }) + "\n")
    command(peer, request).then(
      result => socket.end(JSON.stringify({ ok: true, result }) + "\n"),
      error => socket.end(JSON.stringify({ ok: false, error: errorLine(error), exitCode: exitCodeOf(error) }) + "\n"),
    )
  })
}

function watch(peer: NodePeer, socket: Socket, request: Request): void {
  const stop = watchChanges(peer, request.options.type as string | undefined, event => socket.write(JSON.stringify({ event }) + "\n"))
  socket.on("close", stop)
}

/** Call `emit` with a JSON-ready value for every change (local or remote) to a document of `type` (or any). */
export function watchChanges(peer: NodePeer, type: string | undefined, emit: (value: unknown) => void): () => void {
  return peer.db.on("change", ({ id, type: changedType, origin, entry }) => {
    if (type && changedType !== type) return
    if (entry.purged || entry.deletedAt !== null)
      return emit({ id, type: changedType, origin, deletedAt: entry.deletedAt, purged: entry.purged ?? false })
    peer.db.get(id).then(
      doc => emit({ ...doc, origin }),
      () => {},
    )
  })
}
