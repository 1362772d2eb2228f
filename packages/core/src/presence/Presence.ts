/**
 * Presence: which machines are up, a small state each publishes (a status,
 * app-defined fields), and the network they can see. Each peer publishes
 * its own state and its links (the machines it is connected to, syncing
 * which types) to every connected peer, which keeps it and passes it on, so
 * a peer assembles the whole graph it can reach, not only its direct links:
 * a phone behind a relay shows up with the relay.
 *
 * A presence message is signed by the machine it describes (its id is
 * derived from the key that signs), so no peer can pass off a state as
 * another machine's; it is kept only while newer than the one held, and
 * forwarded at most MAX_HOPS times. The types on a link are not signed:
 * each forwarder keeps only those the next peer may read, so presence never
 * tells a machine the name of a type it may not see. Nothing is stored: a
 * state expires when its machine has not been heard from for `expireMs`.
 */
import { PresenceError } from "../errors.js"
import { Emitter } from "../helpers/Emitter.js"
import { fromHex } from "../identity/actor.js"
import { machineIdFromPublicKey, verifySignature, type MachineIdentity } from "../identity/Machine.js"
import type { PresenceMessage } from "../replication/protocol.js"
import { openDocumentChannel, type ChannelSource, type DocumentChannel } from "./DocumentChannel.js"

/** A published state: JSON, at most MAX_STATE_BYTES when encoded. */
export type PresenceState = Record<string, unknown>

export interface PresenceLink {
  machineId: string
  /** The types synced over the link that the reader may know of ("*" for every type). */
  types: string[]
  /** How the link is carried ("ws", "tcp"), where the machine at its start said. */
  transport?: string
}

export interface PresenceEntry {
  machineId: string
  name?: string
  state: PresenceState
  links: PresenceLink[]
  /** When the machine published it (its clock, ms). */
  publishedAt: number
  /** When it was last heard here (this clock, ms). */
  heardAt: number
  /** The connected machine it came through; absent for this machine's own. */
  via?: string
}

/** What Presence needs of the replicator: its links to connected peers. */
export type PresenceLinks = Pick<
  Emitter<{ linked: LinkedPeer; unlinked: { peerId: string }; presence: { peerId: string; message: PresenceMessage } }>,
  "on"
>

/** A connected peer, as presence sees it. */
export interface LinkedPeer {
  peerId: string
  machineId: string
  /** The types synced with it, as far as this peer tells. */
  types: string[]
  /** How the connection is carried ("ws", "tcp"), where the runtime says. */
  transport?: string
  /** True when it may read documents of `type` here. */
  mayRead(type: string): boolean
  send(message: PresenceMessage): void
}

export interface PresenceOptions {
  /** Where per-document channels come from (the peer's database and repo); without it `document` throws. */
  documents?: ChannelSource
  /** How often a machine publishes again while nothing changed (default 10 s). */
  heartbeatMs?: number
  /** A machine not heard from for this long is dropped (default three heartbeats). */
  expireMs?: number
}

export const MAX_STATE_BYTES = 4096
export const MAX_HOPS = 8
const MAX_LINKS = 64
const MAX_MACHINES = 1024
/** A machine publishes at most this often, however often its state is set. */
const PUBLISH_GAP_MS = 250

type Body = {
  machineId: string
  name?: string
  seq: number
  at: number
  state: PresenceState
  links: string[]
  /** Each link's transport, in the order of `links` (null where unknown); absent from peers that do not say. */
  transports?: (string | null)[]
}

export class Presence extends Emitter<{ change: PresenceEntry[] }> {
  readonly #machine: MachineIdentity
  readonly #links = new Map<string, LinkedPeer>()
  readonly #entries = new Map<string, PresenceEntry>()
  /** The last message of each machine heard (to pass on to a peer that connects later), and its seq. */
  readonly #messages = new Map<string, { message: PresenceMessage; seq: number }>()
  /** Machines whose message is being checked, each with the next one to check after it (the newest that came meanwhile). */
  readonly #checking = new Map<string, { peerId: string; message: PresenceMessage } | undefined>()
  readonly #documents: ChannelSource | undefined
  readonly #heartbeatMs: number
  readonly #expireMs: number
  readonly #stop: (() => void)[]
  #state: PresenceState = {}
  #seq = 0
  #own: PresenceMessage | undefined
  #publishTimer: ReturnType<typeof setTimeout> | undefined
  #lastPublish = 0
  readonly #ticker: ReturnType<typeof setInterval>

  constructor(links: PresenceLinks, machine: MachineIdentity, options: PresenceOptions = {}) {
    super()
    this.#machine = machine
    this.#documents = options.documents
    this.#heartbeatMs = options.heartbeatMs ?? 10_000
    this.#expireMs = options.expireMs ?? this.#heartbeatMs * 3
    this.#stop = [
      links.on("linked", link => {
        this.#links.set(link.peerId, link)
        // A peer that connects learns at once what this one knows (then its own links changed: publish again).
        for (const { message } of this.#messages.values()) this.#sendTo(link, message)
        this.#schedulePublish()
      }),
      links.on("unlinked", ({ peerId }) => {
        if (this.#links.delete(peerId)) this.#schedulePublish()
      }),
      links.on("presence", ({ peerId, message }) => void this.#receive(peerId, message)),
    ]
    this.#ticker = setInterval(() => {
      this.#expire()
      this.#schedulePublish()
    }, this.#heartbeatMs)
    this.#schedulePublish()
  }

  /** Publish this machine's state (replacing the last); at most MAX_STATE_BYTES as JSON. */
  set(state: PresenceState): void {
    if (typeof state !== "object" || state === null || Array.isArray(state)) throw new PresenceError("a presence state is a JSON object")
    let encoded: string
    try {
      encoded = JSON.stringify(state)
    } catch (error) {
      throw new PresenceError(`a presence state must be JSON: ${(error as Error).message}`)
    }
    if (new TextEncoder().encode(encoded).length > MAX_STATE_BYTES)
      throw new PresenceError(`a presence state is at most ${MAX_STATE_BYTES} bytes as JSON, got ${encoded.length}`)
    this.#state = JSON.parse(encoded)
    this.#schedulePublish()
  }

  /** Ephemeral messages about one document (a cursor, a selection) with the peers that have it open; see DocumentChannel. */
  document(id: string): Promise<DocumentChannel> {
    if (!this.#documents) return Promise.reject(new PresenceError("this presence has no documents"))
    return openDocumentChannel(this.#documents, id)
  }

  /** Every machine known to be up, this one first. */
  get(): PresenceEntry[] {
    return [this.#self(), ...[...this.#entries.values()].map(entry => ({ ...entry, links: entry.links.map(l => ({ ...l })) }))]
  }

  /** Call `fn` now and whenever a machine's presence changes, appears or expires; returns the function that stops. */
  subscribe(fn: (entries: PresenceEntry[]) => void): () => void {
    const stop = this.on("change", fn)
    fn(this.get())
    return stop
  }

  close(): void {
    clearInterval(this.#ticker)
    clearTimeout(this.#publishTimer)
    for (const stop of this.#stop) stop()
  }

  #self(): PresenceEntry {
    return {
      machineId: this.#machine.machineId,
      ...(this.#machine.name ? { name: this.#machine.name } : {}),
      state: this.#state,
      links: [...this.#links.values()].map(link => ({
        machineId: link.machineId,
        types: [...link.types],
        ...(link.transport ? { transport: link.transport } : {}),
      })),
      publishedAt: this.#lastPublish,
      heardAt: Date.now(),
    }
  }

  #schedulePublish(): void {
    if (this.#publishTimer) return
    const wait = Math.max(0, this.#lastPublish + PUBLISH_GAP_MS - Date.now())
    this.#publishTimer = setTimeout(() => {
      this.#publishTimer = undefined
      void this.#publish()
    }, wait)
  }

  async #publish(): Promise<void> {
    this.#lastPublish = Date.now()
    const self = this.#self()
    const body: Body = {
      machineId: self.machineId,
      ...(self.name ? { name: self.name } : {}),
      seq: ++this.#seq,
      at: this.#lastPublish,
      state: self.state,
      links: self.links.map(link => link.machineId),
      transports: self.links.map(link => link.transport ?? null),
    }
    const text = JSON.stringify(body)
    const sig = await this.#machine.sign(new TextEncoder().encode(text))
    this.#own = { t: "presence", body: text, sig, key: this.#machine.publicKey, types: self.links.map(l => l.types), hops: MAX_HOPS }
    for (const link of this.#links.values()) this.#sendTo(link, this.#own)
    this.emit("change", this.get())
  }

  /**
   * One message per machine is checked at a time; what arrives meanwhile replaces the one waiting, so a flood
   * costs two signature checks, and the newest state still gets through.
   */
  async #receive(peerId: string, message: PresenceMessage): Promise<void> {
    let body: Body
    try {
      body = parseBody(message.body)
    } catch {
      return
    }
    const origin = body.machineId
    if (this.#checking.has(origin)) {
      this.#checking.set(origin, { peerId, message })
      return
    }
    if (this.#checking.size >= MAX_MACHINES) return
    this.#checking.set(origin, undefined)
    try {
      await this.#accept(peerId, message, body)
    } finally {
      const next = this.#checking.get(origin)
      this.#checking.delete(origin)
      if (next) void this.#receive(next.peerId, next.message)
    }
  }

  async #accept(peerId: string, message: PresenceMessage, body: Body): Promise<void> {
    const from = this.#links.get(peerId)
    if (!from || body.machineId === this.#machine.machineId) return
    if ((this.#messages.get(body.machineId)?.seq ?? -1) >= body.seq) return
    if (!this.#entries.has(body.machineId) && this.#entries.size >= MAX_MACHINES) return
    const key = fromHex(message.key)
    const signed = new TextEncoder().encode(message.body)
    if ((await machineIdFromPublicKey(key)) !== body.machineId || !(await verifySignature(message.key, signed, message.sig))) return
    const types = body.links.map((_, i) => (message.types?.[i] ?? []).filter(t => typeof t === "string"))
    this.#messages.set(body.machineId, { message, seq: body.seq })
    this.#entries.set(body.machineId, {
      machineId: body.machineId,
      ...(body.name ? { name: body.name } : {}),
      state: body.state,
      links: body.links.map((machineId, i) => {
        const transport = body.transports?.[i]
        return { machineId, types: types[i]!, ...(transport ? { transport } : {}) }
      }),
      publishedAt: body.at,
      heardAt: Date.now(),
      via: from.machineId,
    })
    if (message.hops > 0) {
      const onward = { ...message, hops: message.hops - 1 }
      for (const link of this.#links.values()) if (link.peerId !== peerId && link.machineId !== body.machineId) this.#sendTo(link, onward)
    }
    this.emit("change", this.get())
  }

  /** Send `message` to `link` with only the link types it may read. */
  #sendTo(link: LinkedPeer, message: PresenceMessage): void {
    const types = message.types?.map(list => list.filter(type => link.mayRead(type)))
    try {
      link.send({ ...message, ...(types ? { types } : {}) })
    } catch {
      // The connection is closing; it is dropped from the links when it has closed.
    }
  }

  #expire(): void {
    const before = this.#entries.size
    for (const [machineId, entry] of this.#entries) {
      if (Date.now() - entry.heardAt <= this.#expireMs) continue
      this.#entries.delete(machineId)
      this.#messages.delete(machineId)
    }
    if (this.#entries.size !== before) this.emit("change", this.get())
  }
}

const MACHINE_ID = /^[0-9a-f]{32}$/
const TRANSPORT = /^[a-z]{1,16}$/

/** The signed part of a presence message, checked; throws on anything malformed. */
function parseBody(text: string): Body {
  const body = JSON.parse(text) as Body
  if (typeof body !== "object" || body === null) throw new Error("not an object")
  if (typeof body.machineId !== "string" || !MACHINE_ID.test(body.machineId)) throw new Error("bad machine id")
  if (!Number.isSafeInteger(body.seq) || !Number.isFinite(body.at)) throw new Error("bad seq or time")
  if (typeof body.state !== "object" || body.state === null || Array.isArray(body.state)) throw new Error("bad state")
  if (body.name !== undefined && typeof body.name !== "string") throw new Error("bad name")
  if (!Array.isArray(body.links) || body.links.length > MAX_LINKS || !body.links.every(id => typeof id === "string" && MACHINE_ID.test(id)))
    throw new Error("bad links")
  const { transports } = body
  if (
    transports !== undefined &&
    !(
      Array.isArray(transports) &&
      transports.length === body.links.length &&
      transports.every(t => t === null || (typeof t === "string" && TRANSPORT.test(t)))
    )
  )
    throw new Error("bad transports")
  return body
}
