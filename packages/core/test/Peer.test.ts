/**
 * Peers assembled by core and transports attached to them, over in-process
 * sockets: what a runtime gets from `Peer.open`, `serve` and `dial`.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { afterEach, describe, expect, it } from "vitest"
import { Admission, defineType, f, Logger, Machine, Peer, type LogEntry } from "../src/index.js"
import { CairnServerAdapter } from "../src/network/CairnServerAdapter.js"
import { waitFor } from "./helpers.js"
import { serve, trusting } from "./memoryPeers.js"

const Task = defineType("task", { fields: { title: f.string() } })
const Note = defineType("note", { fields: { title: f.string() } })

const open: Peer[] = []
afterEach(async () => {
  for (const peer of open.splice(0)) await peer.close()
})

async function peer(options: { wants?: "*" | string[]; log?: LogEntry[]; publishDefinitions?: boolean } = {}) {
  const machine = await Machine.generate()
  const logger = options.log ? new Logger(entry => options.log!.push(entry)) : Logger.silent
  const opened = await Peer.open({
    machine,
    types: [Task, Note],
    wants: options.wants ?? "*",
    logger,
    ...(options.publishDefinitions === false ? { publishDefinitions: false } : {}),
  })
  open.push(opened)
  return { peer: opened, machine }
}

describe("Peer", () => {
  it("replicates over an attached transport, both ways", async () => {
    const a = await peer()
    const b = await peer()
    const { dial } = serve(a.peer)
    const link = dial(b.peer)
    const fromA = await a.peer.db.create(Task, { title: "from a" })
    await waitFor(() => link.transport.status === "connected")
    await waitFor(() => b.peer.db.catalog.get(fromA.id))
    expect((await b.peer.db.get(Task, fromA.id)).data.title).toBe("from a")
    const fromB = await b.peer.db.create(Note, { title: "from b" })
    await waitFor(() => a.peer.db.catalog.get(fromB.id))
    expect(a.peer.replicator.status().map(status => status.machineId)).toEqual([b.machine.machineId])
  })

  it("gives each connection the grants its admission decided, on both sides", async () => {
    const a = await peer()
    const b = await peer()
    const serverAdmission = new Admission({
      machine: a.machine,
      auth: { mode: "trust" },
      trust: trusting({ machine: b.machine, read: ["task"], write: [] }),
    })
    const clientAdmission = new Admission({
      machine: b.machine,
      auth: { mode: "trust" },
      trust: trusting({ machine: a.machine, read: "*", write: "*" }),
    })
    const { dial } = serve(a.peer, { admission: serverAdmission })
    const link = dial(b.peer, { admission: clientAdmission })
    const task = await a.peer.db.create(Task, { title: "shared" })
    const note = await a.peer.db.create(Note, { title: "hidden" })
    await waitFor(() => link.transport.status === "connected")
    expect(link.transport.remoteInfo?.publicKey).toBe(a.machine.publicKey)
    await waitFor(() => b.peer.db.catalog.get(task.id))
    await b.peer.replicator.whenSynced(undefined, 5_000)
    expect(b.peer.db.catalog.get(note.id)).toBeUndefined()
    // b may not write here: a never takes its task (b's notice of it goes out within 15 ms).
    const own = await b.peer.db.create(Task, { title: "b's" })
    await sleep(200)
    await a.peer.replicator.whenSynced(undefined, 5_000)
    expect(a.peer.db.catalog.get(own.id)).toBeUndefined()
  })

  it("refuses a client its admission does not let in, with the admission's reason", async () => {
    const a = await peer()
    const b = await peer()
    const { dial } = serve(a.peer, { admission: new Admission({ machine: a.machine, auth: { mode: "trust" } }) })
    const link = dial(b.peer, { admission: new Admission({ machine: b.machine, auth: { mode: "open" } }) })
    await waitFor(() => link.transport.status === "refused")
    expect(link.transport.refusalReason).toBe(
      `machine ${b.machine.machineId} is not trusted here; on the server run: cairn trust ${b.machine.publicKey} --read TYPES --write TYPES`,
    )
  })

  it("closes a connection that sends past its rate", async () => {
    // Nothing to sync before the noise: at 1 message a second, the definitions each peer publishes on open would
    // already be past the rate, and the connection closed before the sync this test waits for.
    const a = await peer({ publishDefinitions: false })
    const b = await peer({ publishDefinitions: false })
    const { attached, dial } = serve(a.peer, { messagesPerSecond: 1 })
    const link = dial(b.peer)
    await waitFor(() => link.transport.status === "connected")
    await b.peer.replicator.whenSynced(undefined, 5_000)
    const server = link.transport.remotePeerId!
    for (let i = 0; i < 20 && link.transport.status === "connected"; i++) link.transport.sendControl(server, { t: "noise" })
    await waitFor(() => link.transport.status === "refused")
    expect(link.transport.refusalReason).toBe("more than 1 messages per second")
    await waitFor(() => attached.adapter.peers.length === 0)
    expect(a.peer.replicator.status()).toEqual([])
    // Its own time: the sync before the noise may take whenSynced's 5 s on a machine running other suites.
  }, 15_000)

  it("gives each peer of a per-peer transport a replicator of its own", async () => {
    const a = await peer()
    const b = await peer()
    const c = await peer()
    const { dial } = serve(a.peer, { replicators: "per-peer" })
    const task = await a.peer.db.create(Task, { title: "for every tab" })
    const links = [dial(b.peer), dial(c.peer)]
    for (const link of links) await waitFor(() => link.transport.status === "connected")
    for (const p of [b.peer, c.peer]) await waitFor(() => p.db.catalog.get(task.id))
    // The shared replicator has no session: each tab's is its own.
    expect(a.peer.replicator.status()).toEqual([])
  })

  it("detaching ends the transport's sessions and takes its adapter off the Repo", async () => {
    const a = await peer()
    const b = await peer()
    const { attached, dial } = serve(a.peer)
    const link = dial(b.peer)
    await waitFor(() => link.transport.status === "connected")
    await b.peer.replicator.whenSynced(undefined, 5_000)
    expect(b.peer.repo.networkSubsystem.adapters).toContain(link.adapter)
    link.detach()
    expect(b.peer.replicator.status()).toEqual([])
    expect(b.peer.repo.networkSubsystem.adapters).not.toContain(link.adapter)
    await waitFor(() => attached.adapter.peers.length === 0)
    expect(a.peer.replicator.status()).toEqual([])
  })

  it("logs through its logger, by namespace and level", async () => {
    const log: LogEntry[] = []
    const a = await peer({ log })
    const b = await peer()
    const { dial } = serve(a.peer)
    const link = dial(b.peer)
    await waitFor(() => link.transport.status === "connected")
    link.transport.sendControl(link.transport.remotePeerId!, { t: "noise" })
    const entry = await waitFor(() => log.find(e => e.namespace === "sync"))
    expect(entry.level).toBe("info")
    expect(entry.message).toMatch(new RegExp(`^peer ${b.peer.repo.peerId}: `))
  })

  it("refuses a transport once closed", async () => {
    const a = await peer()
    await a.peer.close()
    expect(() => a.peer.serve(hooks => new CairnServerAdapter(hooks))).toThrow("the peer is closed")
  })
})
