/**
 * A session with the peer holding a data directory, over its local socket:
 * the `hello` that starts it, requests, and streams of events that the
 * session opens again on a new connection. When the connection is lost (the
 * peer stopped or restarted), a session that may reconnect tries, with
 * growing pauses, until a peer holds the directory again: meanwhile every
 * request fails at once with LocalPeerError; once connected, its streams
 * start again (a subscription or a live query gives its current result at
 * once; change events in between are not replayed).
 */
import type { TypeDefinitionJSON } from "@cairn/core"
import { LocalClient } from "./LocalClient.js"

/** What the peer says about itself when a session starts. */
export interface Hello {
  machineId: string
  publicKey: string
  name: string | null
  /** The type definitions saved in the directory. */
  types: TypeDefinitionJSON[]
  /** Newer versions of those types the peer has learnt (from peers that write them): an app reads and writes their documents through their lenses. */
  newer?: TypeDefinitionJSON[]
  /** The methods it serves (`command` where it is `cairn serve`). */
  methods: string[]
}

interface Stream {
  method: string
  params: Record<string, unknown>
  onEvent(event: unknown): void
  stop?: () => void
  stopped: boolean
}

/** The longest pause between two attempts to reconnect. */
const MAX_RECONNECT_DELAY_MS = 2000

export class LocalSession {
  readonly #streams = new Set<Stream>()
  readonly #reconnected = new Set<(hello: Hello) => void>()
  #closed = false
  #endedForGood!: () => void
  /** Resolves when the session is over: closed here, or (one that does not reconnect) the connection was lost. */
  readonly ended = new Promise<void>(resolve => (this.#endedForGood = resolve))

  private constructor(
    private client: LocalClient,
    public hello: Hello,
    private readonly types: TypeDefinitionJSON[],
    private readonly reconnect: boolean,
  ) {
    this.#follow(client)
  }

  /** Start a session on a connection; `types` are registered with the peer (again on every reconnection). */
  static async open(client: LocalClient, types: TypeDefinitionJSON[], reconnect: boolean): Promise<LocalSession> {
    const hello = await client.request<Hello>("hello", { types })
    return new LocalSession(client, hello, types, reconnect)
  }

  get dir(): string {
    return this.client.dir
  }

  request<T>(method: string, params: Record<string, unknown>): Promise<T> {
    return this.client.request<T>(method, params)
  }

  /** Open a stream; it runs (across reconnections) until the returned function stops it. */
  stream(method: string, params: Record<string, unknown>, onEvent: (event: unknown) => void): () => void {
    const stream: Stream = { method, params, onEvent, stopped: false }
    this.#streams.add(stream)
    this.#start(stream, this.client)
    return () => {
      stream.stopped = true
      this.#streams.delete(stream)
      stream.stop?.()
    }
  }

  /** Call `listener` with the new peer's hello after each reconnection. */
  onReconnect(listener: (hello: Hello) => void): void {
    this.#reconnected.add(listener)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.client.close()
    this.#endedForGood()
  }

  #start(stream: Stream, client: LocalClient): void {
    client
      .stream(stream.method, stream.params, event => stream.stopped || stream.onEvent(event))
      .then(stop => (stream.stopped ? stop() : (stream.stop = stop)))
      .catch(() => {})
  }

  #follow(client: LocalClient): void {
    void client.ended.then(() => {
      if (this.#closed || client !== this.client) return
      if (this.reconnect) void this.#reconnect()
      else this.#endedForGood()
    })
  }

  async #reconnect(): Promise<void> {
    for (let delay = 100; !this.#closed; delay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS)) {
      await new Promise(resolve => setTimeout(resolve, delay))
      const client = await LocalClient.connect(this.dir).catch(() => undefined)
      if (!client) continue
      const hello = await client.request<Hello>("hello", { types: this.types }).catch(() => undefined)
      if (!hello || this.#closed) {
        await client.close()
        continue
      }
      this.client = client
      this.hello = hello
      this.#follow(client)
      for (const listener of this.#reconnected) listener(hello)
      for (const stream of this.#streams) this.#start(stream, client)
      return
    }
  }
}
