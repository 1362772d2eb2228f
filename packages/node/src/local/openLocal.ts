/**
 * `openLocal`: the database of this machine's peer for a data directory,
 * whoever holds it. Through the peer that holds the directory, over its
 * local socket (see LocalDatabase), when one runs; else by opening the
 * directory here (a NodePeer with no network, which listens on the socket
 * in turn for the next app). An app never has to know which.
 */
import type { AppDatabase, Logger, LogCallback, TypeDefinition } from "@cairn/core"
import { DirectoryLockedError } from "../DataDirectory.js"
import { NodePeer } from "../NodePeer.js"
import { LocalClient } from "./LocalClient.js"
import { LocalDatabase } from "./LocalDatabase.js"

export interface OpenLocalOptions {
  /** The data directory. */
  dir: string
  /** Type definitions the app knows (registered with the peer, and saved in the directory as NodePeer.open saves them). */
  types?: TypeDefinition<any>[]
  /**
   * How long to wait for a process that holds the directory without serving it (a `cairn` command that is
   * running) to finish, in ms (default 30 s). Then DirectoryLockedError.
   */
  waitMs?: number
  /**
   * Through a peer's socket: when the connection is lost (the peer stopped or restarted), connect again once a
   * peer holds the directory (default true). Meanwhile every call fails with LocalPeerError.
   */
  reconnect?: boolean
  /** Where a peer opened here reports problems (see NodePeerOptions.log). */
  log?: LogCallback | Logger
}

/** The app's side of a database opened with openLocal: the database API, and whether it goes through another process. */
export type LocalAppDatabase = AppDatabase & {
  /** "socket": through the peer holding the directory; "directory": the directory opened by this process. */
  readonly via: "socket" | "directory"
}

export async function openLocal(options: OpenLocalOptions): Promise<LocalAppDatabase> {
  const deadline = Date.now() + (options.waitMs ?? 30_000)
  for (;;) {
    const client = await LocalClient.connect(options.dir)
    if (client) {
      return LocalDatabase.open(client, options.types ?? [], { reconnect: options.reconnect ?? true })
    }
    try {
      const peer = await NodePeer.open({
        dir: options.dir,
        ...(options.types ? { types: options.types } : {}),
        ...(options.log ? { log: options.log } : {}),
      })
      return ownDatabase(peer)
    } catch (error) {
      if (!(error instanceof DirectoryLockedError) || Date.now() > deadline) throw error
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** The database of a peer this process opened for the app: `peer.db`, whose close closes the peer too. */
function ownDatabase(peer: NodePeer): LocalAppDatabase {
  const db = peer.db
  return {
    via: "directory",
    create: db.create.bind(db),
    get: db.get.bind(db),
    change: db.change.bind(db),
    delete: db.delete.bind(db),
    restore: db.restore.bind(db),
    transaction: db.transaction.bind(db),
    list: db.list.bind(db),
    query: db.query.bind(db),
    subscribe: db.subscribe.bind(db),
    liveQuery: db.liveQuery.bind(db),
    on: db.on.bind(db),
    history: db.history.bind(db),
    view: db.view.bind(db),
    close: () => peer.close(),
  }
}
