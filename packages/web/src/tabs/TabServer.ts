/**
 * The leader tab's end of the tab links: answers "who leads?", accepts the
 * virtual sockets follower tabs open and hands each to a Cairn server
 * adapter, and tells every tab how the server connection stands. A follower
 * that closes, crashes or navigates away lets go of its tab lock, which
 * closes its socket here at once.
 */
import { SocketReadyState, type CairnServerAdapter } from "@cairn/core/network"
import { whenReleased } from "./locks.js"
import { channelName, tabLockName, type LeaderStatus, type TabMessage } from "./protocol.js"
import { TabSocket } from "./TabSocket.js"

export interface TabServerOptions {
  /** The Cairn database name (names the channel and the locks). */
  database: string
  /** This leader's id, which followers address. */
  leader: string
  /** Takes each accepted socket. */
  adapter: CairnServerAdapter
  /** A follower asked for another server URL (null: none). */
  onConnect: (url: string | null) => void
}

export class TabServer {
  readonly #channel: BroadcastChannel
  readonly #sockets = new Map<string, { socket: TabSocket; watch: AbortController; tab: string }>()
  #status: LeaderStatus | undefined

  constructor(private readonly options: TabServerOptions) {
    this.#channel = new BroadcastChannel(channelName(options.database))
    this.#channel.onmessage = event => this.#receive(event.data as TabMessage)
    this.#post({ t: "leader", leader: options.leader })
  }

  /** Tell every tab how the server connection stands (sent again to each tab that links later). */
  publish(status: LeaderStatus): void {
    this.#status = status
    this.#post({ t: "status", leader: this.options.leader, status })
  }

  /** Links open from other tabs (a leader that took over in a follower tab also links its own page). */
  otherTabs(): number {
    let count = 0
    for (const { tab } of this.#sockets.values()) if (tab !== this.options.leader) count++
    return count
  }

  /** Close every link and stop answering. */
  close(): void {
    for (const { socket } of [...this.#sockets.values()]) socket.close(1001, "the leader tab is closing")
    this.#channel.close()
  }

  #receive(message: TabMessage): void {
    switch (message.t) {
      case "who":
        this.#post({ t: "leader", leader: this.options.leader })
        if (this.#status) this.#post({ t: "status", leader: this.options.leader, status: this.#status })
        return
      case "open":
        if (message.leader === this.options.leader) this.#accept(message.cid, message.tab)
        return
      case "data":
        if (message.to === "leader") this.#sockets.get(message.cid)?.socket.receive(message.bytes)
        return
      case "close":
        if (message.to === "leader") this.#sockets.get(message.cid)?.socket.remoteClosed(message.code, message.reason)
        return
      case "connect":
        if (message.leader === this.options.leader) this.options.onConnect(message.url)
        return
    }
  }

  #accept(cid: string, tab: string): void {
    if (this.#sockets.has(cid)) return
    const watch = new AbortController()
    const socket = new TabSocket(
      cid,
      "leader",
      message => this.#post(message),
      SocketReadyState.OPEN,
      () => {
        watch.abort()
        this.#sockets.delete(cid)
      },
    )
    this.#sockets.set(cid, { socket, watch, tab })
    this.#post({ t: "opened", cid })
    if (this.#status) this.#post({ t: "status", leader: this.options.leader, status: this.#status })
    this.options.adapter.acceptSocket(socket, { address: `tab ${tab}` })
    whenReleased(tabLockName(this.options.database, tab), watch.signal, () => socket.remoteClosed(1001, "the tab closed"))
  }

  #post(message: TabMessage): void {
    try {
      this.#channel.postMessage(message)
    } catch {
      // The channel is closed: this leader is shutting down.
    }
  }
}
