/**
 * A follower tab's end of the tab link: finds the leader tab on the
 * channel and opens virtual sockets to it for a Cairn client adapter
 * (`createSocket`). When the leader goes away (its tab lock is let go) the
 * socket closes at once, and when a new leader announces itself the client
 * is told to reconnect without waiting out its backoff.
 */
import { SocketReadyState, type CreateSocket, type SocketLike } from "@cairn/core/network"
import { whenReleased } from "./locks.js"
import { channelName, randomId, tabLockName, type LeaderStatus, type TabMessage } from "./protocol.js"
import { TabSocket } from "./TabSocket.js"

export interface TabDialerOptions {
  /** The Cairn database name (names the channel and the locks). */
  database: string
  /** This tab's id: the name of the lock it holds for its life. */
  tab: string
  /** A leader announced itself, other than the one the socket was for. */
  onNewLeader: () => void
  /** The leader's view of the server connection changed, or the leader went away (`leaderStatus` says which). */
  onStatus: () => void
}

interface Dial {
  socket: TabSocket
  /** The leader the open was sent to; undefined while no leader is known. */
  leader: string | undefined
  watch: AbortController
}

export class TabDialer {
  readonly #channel: BroadcastChannel
  #leader: string | undefined
  #dial: Dial | undefined
  #status: LeaderStatus | undefined

  constructor(private readonly options: TabDialerOptions) {
    this.#channel = new BroadcastChannel(channelName(options.database))
    this.#channel.onmessage = event => this.#receive(event.data as TabMessage)
    this.#post({ t: "who" })
  }

  /** The leader's last word on the server connection. */
  get leaderStatus(): LeaderStatus | undefined {
    return this.#status
  }

  /** For the client adapter: open a socket to the leader tab (the URL is ignored). */
  readonly createSocket: CreateSocket = (): SocketLike => {
    this.#dial?.socket.close(1001, "replaced")
    const cid = randomId()
    const dial: Dial = {
      leader: undefined,
      watch: new AbortController(),
      socket: new TabSocket(
        cid,
        "follower",
        message => this.#post(message),
        SocketReadyState.CONNECTING,
        () => {
          dial.watch.abort()
          if (this.#dial === dial) this.#dial = undefined
        },
      ),
    }
    this.#dial = dial
    if (this.#leader) this.#open(dial, this.#leader)
    else this.#post({ t: "who" })
    return dial.socket
  }

  /** Ask the leader tab to connect to a server (null: to disconnect); nothing happens while no leader is known. */
  requestConnect(url: string | null): void {
    if (this.#leader) this.#post({ t: "connect", leader: this.#leader, url })
  }

  close(): void {
    this.#dial?.socket.close(1001, "the tab is closing")
    this.#channel.close()
  }

  #open(dial: Dial, leader: string): void {
    dial.leader = leader
    this.#post({ t: "open", cid: dial.socket.cid, leader, tab: this.options.tab })
    whenReleased(tabLockName(this.options.database, leader), dial.watch.signal, () => {
      if (this.#leader === leader) {
        this.#leader = undefined
        this.#status = undefined
        this.options.onStatus()
      }
      dial.socket.remoteClosed(1001, "the leader tab closed")
    })
  }

  #receive(message: TabMessage): void {
    const dial = this.#dial
    switch (message.t) {
      case "leader": {
        if (message.leader === this.#leader) return
        this.#leader = message.leader
        this.#status = undefined
        this.options.onStatus()
        if (dial && dial.leader === undefined) {
          this.#open(dial, message.leader)
        } else if (dial) {
          dial.socket.close(1001, "another tab leads now")
          this.options.onNewLeader()
        } else {
          this.options.onNewLeader()
        }
        return
      }
      case "opened":
        if (dial?.socket.cid === message.cid) dial.socket.opened()
        return
      case "data":
        if (message.to === "follower" && dial?.socket.cid === message.cid) dial.socket.receive(message.bytes)
        return
      case "close":
        if (message.to === "follower" && dial?.socket.cid === message.cid) dial.socket.remoteClosed(message.code, message.reason)
        return
      case "status":
        if (message.leader !== this.#leader) return
        this.#status = message.status
        this.options.onStatus()
        return
    }
  }

  #post(message: TabMessage): void {
    try {
      this.#channel.postMessage(message)
    } catch {
      // The channel is closed: this tab is shutting down.
    }
  }
}
