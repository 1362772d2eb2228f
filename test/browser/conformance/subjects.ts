/**
 * The browser's adapters as subjects of the conformance suites: IndexedDB
 * storage, and the tab channel (a leader's TabServer and followers'
 * TabDialers, each holding its tab lock as a tab does, all in one page: a
 * BroadcastChannel delivers to the page's other channel objects too).
 * Imported by the page, and by the test in Node to know the cases' names;
 * nothing here touches a browser API until a case runs.
 */
import { CairnClientAdapter, CairnServerAdapter } from "@cairn/core/network"
import type { StorageUnderTest } from "../../../packages/core/test/conformance/storage.js"
import type { TransportUnderTest } from "../../../packages/core/test/conformance/transport.js"
import { acquireLock, type HeldLock } from "../../../packages/web/src/tabs/locks.js"
import { randomId, tabLockName } from "../../../packages/web/src/tabs/protocol.js"
import { TabDialer } from "../../../packages/web/src/tabs/TabDialer.js"
import { TabServer } from "../../../packages/web/src/tabs/TabServer.js"
import { IndexedDBStorage } from "../../../packages/web/src/storage/IndexedDBStorage.js"

export const indexedDbStore: StorageUnderTest = {
  cannot: {
    crash:
      "a page cannot kill its own browser mid-write; IndexedDB commits each save, and each batch, as one transaction, whole or not at all (test/browser/storage.test.ts closes a page mid-batch)",
    damage: "a page cannot reach the files under IndexedDB to damage them; Chromium checks them itself",
  },
  async open() {
    // A database of its own per case, in the browser's fresh profile (deleted with it).
    const name = `conformance-${randomId()}`
    return {
      adapter: new IndexedDBStorage(name),
      reopen: async () => new IndexedDBStorage(name),
      dispose: async () => {},
    }
  },
}

export const tabTransport: TransportUnderTest = {
  cannot: {
    backpressure: "a tab link has no bufferedAmount: BroadcastChannel takes every frame at once, so a send never has to wait",
    backoffWhileDown:
      "a follower's dial waits for a leader instead of failing, and a new leader's announcement reconnects it at once: there are no failed dials to space out",
  },
  async start(options) {
    const database = `conformance-${randomId()}`
    const adapter = new CairnServerAdapter(options)
    let leader: { server: TabServer; lock: HeldLock } | undefined
    const lead = async () => {
      const id = randomId()
      const lock = (await acquireLock(tabLockName(database, id)))!
      leader = { server: new TabServer({ database, leader: id, adapter, onConnect: () => {} }), lock }
    }
    const stop = async () => {
      leader?.server.close()
      leader?.lock.release()
      leader = undefined
    }
    const followers: { dialer: TabDialer; lock: Promise<HeldLock | null> }[] = []
    await lead()
    return {
      adapter,
      client(clientOptions) {
        const tab = randomId()
        // Asked for before the dial, so the leader, which watches this lock to learn the tab is gone, finds it held.
        const lock = acquireLock(tabLockName(database, tab))
        const dialer = new TabDialer({ database, tab, onNewLeader: () => client.reconnect(), onStatus: () => {} })
        const client: CairnClientAdapter = new CairnClientAdapter({
          ...clientOptions,
          url: `tab:${database}`,
          createSocket: dialer.createSocket,
        })
        followers.push({ dialer, lock })
        return client
      },
      stop,
      restart: lead,
      async close() {
        await stop()
        for (const { dialer, lock } of followers) {
          dialer.close()
          ;(await lock)?.release()
        }
      },
    }
  },
}
