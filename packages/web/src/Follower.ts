/**
 * What a follower tab runs: the database in memory, linked to the leader
 * tab over the BroadcastChannel with Cairn's own transport and replication.
 * The leader sends it every document of the wanted types at once, and
 * automerge-repo syncs each document the app subscribes to live, so a
 * change in any tab shows in the others within milliseconds, with or
 * without a server. Writes here reach IndexedDB through the leader.
 */
import { Peer, TimeoutError, type Attachment, type Logger, type Machine, type TypeDefinition, type TypeSelection } from "@cairn/core"
import { CairnClientAdapter } from "@cairn/core/network"
import type { LeaderStatus } from "./tabs/protocol.js"
import { TabDialer } from "./tabs/TabDialer.js"

export interface FollowerOptions {
  database: string
  tab: string
  machine: Machine
  types: TypeDefinition<any>[]
  wants: TypeSelection
  logger: Logger
  onStatus: () => void
}

export class Follower {
  readonly #dialer: TabDialer
  readonly #link: Attachment<CairnClientAdapter>
  readonly #unwire: (() => void)[] = []
  /** The server URL this tab asked for (undefined: it asked for none), sent to every leader it links to. */
  #wantedUrl: string | null | undefined
  #closed = false

  private constructor(
    readonly peer: Peer,
    options: FollowerOptions,
  ) {
    this.#dialer = new TabDialer({
      database: options.database,
      tab: options.tab,
      onNewLeader: () => this.#link.transport.reconnect(),
      onStatus: options.onStatus,
    })
    this.#link = peer.dial(
      hooks =>
        new CairnClientAdapter({
          url: `tab:${options.database}`,
          createSocket: this.#dialer.createSocket,
          backoff: { initialMs: 50, maxMs: 1_000 },
          readyTimeoutMs: 100,
          ...hooks,
        }),
    )
    const link = this.#link.transport
    const onLinkStatus = () => {
      if (link.status === "connected" && this.#wantedUrl !== undefined) this.#dialer.requestConnect(this.#wantedUrl)
      options.onStatus()
    }
    link.on("status", onLinkStatus)
    this.#unwire.push(() => link.off("status", onLinkStatus))
    this.#unwire.push(peer.replicator.on("status", options.onStatus))
  }

  static async open(options: FollowerOptions): Promise<Follower> {
    return new Follower(
      await Peer.open({ machine: options.machine, types: options.types, wants: options.wants, logger: options.logger }),
      options,
    )
  }

  /** The leader's view of the server connection; undefined while no leader is linked. */
  get leaderStatus(): LeaderStatus | undefined {
    return this.#link.transport.status === "connected" ? this.#dialer.leaderStatus : undefined
  }

  /** True when the leader holds everything written here and this tab holds everything the leader has. */
  inSync(): boolean {
    const leader = this.#link.transport.remotePeerId
    return !!leader && this.peer.replicator.status().some(peer => peer.peerId === leader && peer.state === "in-sync")
  }

  /** Resolves when the leader tab holds (on disk) every write made here so far. */
  async whenSaved(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    await this.#linked(timeoutMs)
    await this.peer.replicator.whenSynced(this.#link.transport.remotePeerId!, Math.max(0, deadline - Date.now()))
  }

  /** Resolves once a leader tab is linked (followed by the link's status events); rejects after `timeoutMs`. */
  #linked(timeoutMs: number): Promise<void> {
    if (this.#link.transport.remotePeerId) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer)
        this.#link.transport.off("status", onStatus)
      }
      const onStatus = () => {
        if (!this.#link.transport.remotePeerId) return
        done()
        resolve()
      }
      const timer = setTimeout(() => {
        done()
        reject(new TimeoutError("timed out waiting for the leader tab"))
      }, timeoutMs)
      this.#link.transport.on("status", onStatus)
    })
  }

  /** Ask the leader tab to connect to a server (null: disconnect), now or as soon as a leader is linked. */
  requestConnect(url: string | null): void {
    this.#wantedUrl = url
    if (this.#link.transport.status === "connected") this.#dialer.requestConnect(url)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const unwire of this.#unwire) unwire()
    await this.peer.close()
    this.#dialer.close()
  }
}
