/**
 * One connection to the local socket of the peer holding a data directory
 * (see LocalServer.ts): requests answered by id, streams of events, and a
 * clear error for every request once the peer is gone.
 */
import { stat } from "node:fs/promises"
import { connect, type Socket } from "node:net"
import { join, resolve } from "node:path"
import { DataDirectory } from "../DataDirectory.js"
import { decodeError, LocalPeerError, lineReader, MAX_ANSWER_CHARS, SOCKET_NAME, type Answer } from "./wire.js"

interface Pending {
  resolve(value: unknown): void
  reject(error: Error): void
}

export class LocalClient {
  #next = 1
  readonly #pending = new Map<number, Pending>()
  readonly #streams = new Map<number, (event: unknown) => void>()
  #gone: LocalPeerError | undefined
  /** Resolves when the connection ends (closed here, or the peer stopped). */
  readonly ended: Promise<void>

  private constructor(
    private readonly socket: Socket,
    /** The data directory the peer holds. */
    readonly dir: string,
  ) {
    let ended!: () => void
    this.ended = new Promise(resolve => (ended = resolve))
    socket.setEncoding("utf8")
    socket.on(
      "data",
      lineReader(
        MAX_ANSWER_CHARS,
        line => this.#receive(line),
        () => this.#end("an answer line was too long"),
      ),
    )
    socket.on("error", error => this.#end(error.message))
    socket.on("close", () => {
      this.#end("the connection closed")
      ended()
    })
  }

  /**
   * Connect to the peer holding `dir`, if a live one listens there; undefined if none does (no socket, a socket
   * left by a peer that died, a holder that does not listen). A socket that another user owns is refused.
   */
  static async connect(dir: string): Promise<LocalClient | undefined> {
    const directory = resolve(dir)
    const path = join(directory, SOCKET_NAME)
    const found = await stat(path).catch(() => undefined)
    if (!found || !(await DataDirectory.lockHolderOf(directory))) return undefined
    if (!found.isSocket()) throw new LocalPeerError(`${path} is not a socket; remove it`)
    if (process.getuid && found.uid !== process.getuid())
      throw new LocalPeerError(`${path} belongs to another user (uid ${found.uid}); refusing to talk to it`)
    const socket = connect(path)
    const connected = await new Promise<boolean>(resolve => {
      socket.once("connect", () => resolve(true))
      socket.once("error", () => resolve(false))
    })
    if (!connected) {
      socket.destroy()
      return undefined
    }
    return new LocalClient(socket, directory)
  }

  /** True until the connection ends. */
  get connected(): boolean {
    return this.#gone === undefined
  }

  /** Send a request; resolves with its result, rejects with the error the peer answered (its class kept: see wire.ts). */
  request<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return this.#send(method, params).promise as Promise<T>
  }

  /** Open a stream (subscribe, liveQuery, watch): `onEvent` gets each event until the returned function stops it. */
  async stream(method: string, params: Record<string, unknown>, onEvent: (event: unknown) => void): Promise<() => void> {
    const { id, promise } = this.#send(method, params, onEvent)
    try {
      await promise
    } catch (error) {
      this.#streams.delete(id)
      throw error
    }
    return () => {
      if (!this.#streams.delete(id) || this.#gone) return
      this.request("stop", { stream: id }).catch(() => {})
    }
  }

  /** End the connection (the peer stops every stream of it). */
  async close(): Promise<void> {
    if (this.#gone) return
    this.socket.end()
    await this.ended
  }

  #send(method: string, params: Record<string, unknown>, onEvent?: (event: unknown) => void): { id: number; promise: Promise<unknown> } {
    const id = this.#next++
    const promise = new Promise<unknown>((resolve, reject) => {
      if (this.#gone) return reject(this.#gone)
      this.#pending.set(id, { resolve, reject })
      if (onEvent) this.#streams.set(id, onEvent)
      this.socket.write(JSON.stringify({ id, method, params }) + "\n")
    })
    return { id, promise }
  }

  #receive(line: string): void {
    let answer: Answer
    try {
      answer = JSON.parse(line)
    } catch {
      return this.#end("the peer sent a line that is not JSON")
    }
    if ("stream" in answer) return this.#streams.get(answer.stream as number)?.(answer.event)
    const pending = this.#pending.get(answer.id as number)
    if (!pending) return
    this.#pending.delete(answer.id as number)
    if (answer.ok) pending.resolve(answer.result)
    else pending.reject(decodeError(answer.error))
  }

  #end(reason: string): void {
    if (this.#gone) return
    this.#gone = new LocalPeerError(`lost the connection to the peer holding ${this.dir} (${reason})`)
    this.socket.destroy()
    for (const pending of this.#pending.values()) pending.reject(this.#gone)
    this.#pending.clear()
    this.#streams.clear()
  }
}
