/**
 * What the tabs of one app say to each other on their BroadcastChannel
 * (`cairn-tabs:<database name>`). One tab leads: it holds the database's
 * IndexedDB storage and the connection to the server. Every other tab opens
 * a virtual socket to it over the channel and speaks Cairn's ordinary
 * transport on it (hello/welcome, automerge-repo sync, replication control
 * messages), exactly as a peer does over a WebSocket.
 *
 *   follower → all     who                          "which tab leads?"
 *   leader   → all     leader { leader }            "I lead" (on start, and in answer to who)
 *   follower → leader  open { cid, leader, tab }    open virtual socket cid; `tab` names the follower's liveness lock
 *   leader   → follower opened { cid }
 *   either   → other   data { cid, to, bytes }      one transport frame
 *   either   → other   close { cid, to, code, reason }
 *   leader   → all     status { leader, status }    the server connection, as the leader sees it
 *   follower → leader  connect { leader, url }      "connect to this server" (null: disconnect)
 *
 * A channel delivers to every other tab (and to other channel objects in
 * the same tab), so each message names its target and the rest ignore it.
 */
import type { ClientStatus } from "@cairn/core/network"

/** Which end of a virtual socket a message is for. */
export type Side = "leader" | "follower"

/** The leader tab's view of the server connection, shared with the other tabs. */
export interface LeaderStatus {
  /** `none` when no server URL is set. */
  connection: "none" | ClientStatus
  url: string | null
  /** Why the server refused, while `connection` is `refused`. */
  refusal?: string
  /** The leader and the server hold the same documents of the wanted types. */
  synced: boolean
  /** Follower tabs linked to the leader. */
  tabs: number
}

export type TabMessage =
  | { t: "who" }
  | { t: "leader"; leader: string }
  | { t: "open"; cid: string; leader: string; tab: string }
  | { t: "opened"; cid: string }
  | { t: "data"; cid: string; to: Side; bytes: Uint8Array }
  | { t: "close"; cid: string; to: Side; code: number; reason: string }
  | { t: "status"; leader: string; status: LeaderStatus }
  | { t: "connect"; leader: string; url: string | null }

export function channelName(database: string): string {
  return `cairn-tabs:${database}`
}

/** The Web Lock a tab holds for as long as it lives; others wait on it to learn that the tab is gone. */
export function tabLockName(database: string, tab: string): string {
  return `cairn-tab:${database}:${tab}`
}

/** The Web Lock the leader tab holds. */
export function leaderLockName(database: string): string {
  return `cairn-leader:${database}`
}

export function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), b => b.toString(16).padStart(2, "0")).join("")
}
