import type { HandshakeError } from "./errors.js"

/**
 * Extra handshake rounds between the server's accept hook and the client,
 * for authentication: the server sends a challenge, the client's `answerAuth`
 * replies, and so on, before the server decides. Nothing else is exchanged
 * until the server answers `welcome` or `refuse`.
 */
export interface AuthExchange {
  /** Send one message to the client; its `answerAuth` option receives it. */
  send(message: unknown): void
  /**
   * The client's next message. Rejects with {@link HandshakeError} if the
   * connection closes or the handshake times out first.
   */
  receive(): Promise<unknown>
}

const MAX_UNREAD = 8

/** The server's side of an {@link AuthExchange} for one connection: a queue of the client's auth frames. */
export class AuthChannel implements AuthExchange {
  readonly #send: (message: unknown) => void
  readonly #inbox: unknown[] = []
  readonly #waiting: { resolve(message: unknown): void; reject(error: Error): void }[] = []
  #failure: HandshakeError | undefined

  constructor(send: (message: unknown) => void) {
    this.#send = send
  }

  /** {@inheritDoc AuthExchange.send} */
  send(message: unknown): void {
    if (this.#failure) throw this.#failure
    this.#send(message)
  }

  /** {@inheritDoc AuthExchange.receive} */
  receive(): Promise<unknown> {
    if (this.#inbox.length > 0) return Promise.resolve(this.#inbox.shift())
    if (this.#failure) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }))
  }

  /**
   * Deliver an auth frame from the client. Returns false when the client has
   * sent more than the server asked for; the caller should close.
   */
  push(message: unknown): boolean {
    const waiter = this.#waiting.shift()
    if (waiter) waiter.resolve(message)
    else if (this.#inbox.length >= MAX_UNREAD) return false
    else this.#inbox.push(message)
    return true
  }

  /** The handshake is over without a decision: every pending and later `receive` rejects. */
  fail(error: HandshakeError): void {
    this.#failure ??= error
    for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#failure)
  }
}
