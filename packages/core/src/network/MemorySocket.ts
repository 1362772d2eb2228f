import { SocketReadyState, type SocketLike } from "./SocketLike.js"

type Listeners = { [K in "open" | "message" | "close" | "error"]: ((event: any) => void)[] }

/**
 * One end of an in-process socket pair: bytes sent on one end arrive, copied
 * and on a later tick, at the other, as they would over a network. For
 * tests, and for connecting two peers in one process without a port.
 */
export class MemorySocket implements SocketLike {
  binaryType = "arraybuffer"
  #readyState: number
  #other: MemorySocket | undefined
  readonly #listeners: Listeners = { open: [], message: [], close: [], error: [] }

  private constructor(readyState: number) {
    this.#readyState = readyState
  }

  /**
   * A connected pair. `server` is open at once, like a socket a server just
   * accepted; `client` opens on the next tick, like a socket a client dialled.
   */
  static pair(): { client: MemorySocket; server: MemorySocket } {
    const client = new MemorySocket(SocketReadyState.CONNECTING)
    const server = new MemorySocket(SocketReadyState.OPEN)
    client.#other = server
    server.#other = client
    setTimeout(() => {
      if (client.#readyState !== SocketReadyState.CONNECTING) return
      client.#readyState = SocketReadyState.OPEN
      client.#dispatch("open", {})
    })
    return { client, server }
  }

  /** A client socket that never connects, like a dial to a host that does not answer. */
  static unanswered(): MemorySocket {
    return new MemorySocket(SocketReadyState.CONNECTING)
  }

  /** {@inheritDoc SocketLike.readyState} */
  get readyState(): number {
    return this.#readyState
  }

  /** {@inheritDoc SocketLike.send} */
  send(data: Uint8Array): void {
    if (this.#readyState === SocketReadyState.CONNECTING) throw new Error("MemorySocket is still connecting")
    const other = this.#other
    if (this.#readyState !== SocketReadyState.OPEN || !other) return
    // Not data.slice(): on a Node Buffer that is a view of the same memory.
    const copy = new Uint8Array(data.byteLength)
    copy.set(data)
    setTimeout(() => {
      if (other.#readyState === SocketReadyState.OPEN) other.#dispatch("message", { data: copy.buffer })
    })
  }

  /** Send a text message, which Cairn's transport never does: for testing that it is refused. */
  sendText(text: string): void {
    const other = this.#other
    if (other) setTimeout(() => other.#dispatch("message", { data: text }))
  }

  /** {@inheritDoc SocketLike.close} */
  close(code = 1000, reason = ""): void {
    if (this.#readyState === SocketReadyState.CLOSED) return
    const wasConnecting = this.#readyState === SocketReadyState.CONNECTING
    this.#readyState = SocketReadyState.CLOSED
    const event = wasConnecting ? { code: 1006, reason: "" } : { code, reason }
    setTimeout(() => {
      if (wasConnecting) this.#dispatch("error", {})
      this.#dispatch("close", event)
    })
    // Queued behind the messages already sent, so the other end reads them first.
    const other = this.#other
    if (other) {
      setTimeout(() => {
        if (other.#readyState === SocketReadyState.CLOSED) return
        other.#readyState = SocketReadyState.CLOSED
        other.#dispatch("close", event)
      })
    }
  }

  /** {@inheritDoc SocketLike.addEventListener} */
  addEventListener(type: keyof Listeners, listener: (event: any) => void): void {
    this.#listeners[type].push(listener)
  }

  #dispatch(type: keyof Listeners, event: unknown): void {
    for (const listener of [...this.#listeners[type]]) listener(event)
  }
}
