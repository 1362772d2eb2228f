/**
 * One server and its clients for a case of the transport suite: the
 * adapters connected under fixed peer ids, what each side hears recorded,
 * and everything closed when the case ends, passed or not.
 */
import type { PeerId } from "@automerge/automerge-repo"
import type {
  CairnClientAdapter,
  CairnClientAdapterOptions,
  CairnServerAdapter,
  CairnServerAdapterOptions,
  ClientStatus,
  ControlEvent,
  PeerEvent,
} from "@cairn/core/network" // by name, as the runtimes import it: one declaration of each class for the type checker
import { Recorder } from "./runner.js"

/** The parts of the suite a transport may be unable to do. */
export type TransportPart = "backpressure" | "backoffWhileDown"

export interface TransportUnderTest {
  /** Parts this transport cannot do, each with why. */
  readonly cannot?: Partial<Record<TransportPart, string>>
  /** Start a server whose adapter is made with `options`; the suite connects the adapter. */
  start(options: CairnServerAdapterOptions): Promise<ServerUnderTest>
}

/** What a client adapter is made with; the transport adds how it dials. */
export type ClientOptions = Omit<CairnClientAdapterOptions, "url" | "createSocket">

export interface ServerUnderTest {
  readonly adapter: CairnServerAdapter
  /** A client adapter that dials this server (not yet connected). */
  client(options: ClientOptions): CairnClientAdapter
  /** Go down as a stopped server does: every connection drops, and none is taken until `restart`. */
  stop(): Promise<void>
  /** Take connections again where clients dial (same address). */
  restart(): Promise<void>
  /** Stop reading what clients send, until the returned function is called (required unless `cannot.backpressure`). */
  stopReading?(): () => void
  /** Close everything and free what the server held (a port, a channel). */
  close(): Promise<void>
}

export const SERVER = "conformance-server" as PeerId

export interface ClientUnderTest {
  readonly adapter: CairnClientAdapter
  readonly peerId: PeerId
  readonly logs: string[]
  readonly statuses: Recorder<{ readonly status: ClientStatus; readonly at: number }>
  readonly peers: Recorder<PeerEvent>
  readonly controls: Recorder<ControlEvent>
}

export class TransportSession {
  readonly peers = new Recorder<PeerEvent>()
  readonly controls = new Recorder<ControlEvent>()
  readonly #clients: ClientUnderTest[] = []

  /** @param logs what the server adapter logged */
  private constructor(
    readonly server: ServerUnderTest,
    readonly logs: string[],
  ) {
    server.adapter.on("peer", this.peers.push)
    server.adapter.on("control", this.controls.push)
  }

  static async start(subject: TransportUnderTest, options: Partial<CairnServerAdapterOptions> = {}): Promise<TransportSession> {
    const logs: string[] = []
    const server = await subject.start({ inbound: () => "pass", log: message => logs.push(message), ...options })
    const session = new TransportSession(server, logs)
    server.adapter.connect(SERVER, {})
    return session
  }

  /** A client under `peerId`, connecting unless told not to (a Repo given the adapter connects it). */
  client(peerId: string, options: Partial<ClientOptions> = {}, { connect = true } = {}): ClientUnderTest {
    const logs: string[] = []
    const adapter = this.server.client({
      info: () => ({}),
      inbound: () => "pass",
      log: message => logs.push(message),
      backoff: { initialMs: 20, maxMs: 200 },
      ...options,
    })
    const client: ClientUnderTest = {
      adapter,
      peerId: peerId as PeerId,
      logs,
      statuses: new Recorder(),
      peers: new Recorder(),
      controls: new Recorder(),
    }
    adapter.on("status", status => client.statuses.push({ status, at: Date.now() }))
    adapter.on("peer", client.peers.push)
    adapter.on("control", client.controls.push)
    this.#clients.push(client)
    if (connect) adapter.connect(client.peerId, {})
    return client
  }

  /** A client that is connected, welcomed on both sides. */
  async connected(peerId: string, options: Partial<ClientOptions> = {}): Promise<ClientUnderTest> {
    const client = this.client(peerId, options)
    await untilStatus(client, "connected", `${peerId} to connect`)
    await this.peers.until(event => event.peerId === peerId && event.state === "connected", `the server to see ${peerId}`)
    return client
  }

  /** Server-side control messages from `peerId`, in arrival order. */
  controlsFrom(peerId: string): unknown[] {
    return this.controls.items.filter(event => event.peerId === peerId).map(event => event.message)
  }

  async close(): Promise<void> {
    for (const client of this.#clients) client.adapter.disconnect()
    this.server.adapter.disconnect()
    await this.server.close()
  }
}

/** Resolves once the client's status is `status` (at once if it is). */
export function untilStatus(client: ClientUnderTest, status: ClientStatus, what: string, ms = 5_000): Promise<unknown> {
  if (client.adapter.status === status) return Promise.resolve()
  const from = client.statuses.items.length
  return client.statuses.until(item => item.status === status && client.statuses.items.indexOf(item) >= from, what, ms)
}
