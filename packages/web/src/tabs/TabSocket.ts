/**
 * One end of a virtual socket between two tabs, carried on their
 * BroadcastChannel. It behaves like a WebSocket to Cairn's transport
 * (`SocketLike`), so a follower tab's client adapter and the leader tab's
 * server adapter run over it unchanged: same handshake, same framing, same
 * replication protocol as over the network.
 */
import { SocketReadyState, type SocketLike } from "@cairn/core/network"
import type { Side, TabMessage } from "./protocol.js"

type Listeners = { [K in "open" | "message" | "close" | "error"]: ((event: any) => void)[] }

export class TabSocket implements SocketLike {
  binaryType = "arraybuffer"
  #readyState: number
  readonly #listeners: Listeners = { open: [], message: [], close: [], error: [] }

  /**
   * @param side this end's side: messages it sends are addressed to the other.
   * @param onClosed called once when this end is closed, by either side.
   */
  constructor(
    readonly cid: string,
    private readonly side: Side,
    private readonly post: (message: TabMessage) => void,
    readyState: number,
    private readonly onClosed: () => void,
  ) {
    this.#readyState = readyState
  }

  get readyState(): number {
    return this.#readyState
  }

  send(data: Uint8Array): void {
    if (this.#readyState === SocketReadyState.CONNECTING) throw new Error("the tab link is still connecting")
    if (this.#readyState !== SocketReadyState.OPEN) return
    // A copy: the encoder's output may be a view of a larger buffer, which the channel would clone whole.
    this.post({ t: "data", cid: this.cid, to: this.#other, bytes: new Uint8Array(data) })
  }

  close(code = 1000, reason = ""): void {
    if (this.#readyState === SocketReadyState.CLOSED) return
    const wasConnecting = this.#readyState === SocketReadyState.CONNECTING
    this.#readyState = SocketReadyState.CLOSED
    this.post({ t: "close", cid: this.cid, to: this.#other, code, reason })
    this.onClosed()
    setTimeout(() => {
      if (wasConnecting) this.#dispatch("error", {})
      this.#dispatch("close", wasConnecting ? { code: 1006, reason: "" } : { code, reason })
    })
  }

  addEventListener(type: keyof Listeners, listener: (event: any) => void): void {
    this.#listeners[type].push(listener)
  }

  /** The leader accepted the socket. */
  opened(): void {
    if (this.#readyState !== SocketReadyState.CONNECTING) return
    this.#readyState = SocketReadyState.OPEN
    this.#dispatch("open", {})
  }

  /** Bytes from the other end. */
  receive(bytes: Uint8Array): void {
    if (this.#readyState === SocketReadyState.OPEN) this.#dispatch("message", { data: bytes })
  }

  /** The other end closed, or is known to be gone (its tab's lock was let go). */
  remoteClosed(code: number, reason: string): void {
    if (this.#readyState === SocketReadyState.CLOSED) return
    const wasConnecting = this.#readyState === SocketReadyState.CONNECTING
    this.#readyState = SocketReadyState.CLOSED
    this.onClosed()
    if (wasConnecting) this.#dispatch("error", {})
    this.#dispatch("close", { code: wasConnecting ? 1006 : code, reason })
  }

  get #other(): Side {
    return this.side === "leader" ? "follower" : "leader"
  }

  #dispatch(type: keyof Listeners, event: unknown): void {
    for (const listener of [...this.#listeners[type]]) listener(event)
  }
}
