/**
 * Presence: machines' states and links, passed on through relays, within
 * grants. First between real peers over in-process sockets (a phone and a
 * laptop that reach each other only through a relay); then Presence alone,
 * driven by hand, for what a hostile or vanished peer does: a forged state,
 * a flood, an old state replayed, silence.
 */
import { afterEach, describe, expect, it } from "vitest"
import { Admission, defineType, f, Logger, Machine, Peer, Presence, PresenceError, type PresenceEntry } from "../src/index.js"
import { Emitter } from "../src/helpers/Emitter.js"
import { serve, trusting } from "./memoryPeers.js"
import type { LinkedPeer } from "../src/presence/Presence.js"
import type { PresenceMessage } from "../src/replication/protocol.js"
import { sleep, waitFor } from "./helpers.js"

const Task = defineType("task", { fields: { title: f.string() } })
const Secret = defineType("secret", { fields: { code: f.string() } })

const open: { close(): unknown }[] = []
afterEach(async () => {
  for (const item of open.splice(0)) await item.close()
})

async function peer(wants: "*" | string[] = "*") {
  const machine = await Machine.generate()
  const opened = await Peer.open({ machine, types: [Task, Secret], wants, logger: Logger.silent })
  open.push(opened)
  return { peer: opened, machine }
}

/** phone → relay ← laptop: the phone may read and write tasks only, the laptop everything; both trust the relay. */
async function phoneRelayLaptop() {
  const relay = await peer()
  const phone = await peer(["task"])
  const laptop = await peer()
  const relayTrusts = trusting(
    { machine: phone.machine, read: ["task"], write: ["task"] },
    { machine: laptop.machine, read: "*", write: "*" },
  )
  const { dial } = serve(relay.peer, { admission: new Admission({ machine: relay.machine, auth: { mode: "trust" }, trust: relayTrusts }) })
  const trustsRelay = (machine: Machine) =>
    new Admission({ machine, auth: { mode: "trust" }, trust: trusting({ machine: relay.machine, read: "*", write: "*" }) })
  dial(phone.peer, { admission: trustsRelay(phone.machine) })
  dial(laptop.peer, { admission: trustsRelay(laptop.machine) })
  return { relay, phone, laptop }
}

const entryOf = (entries: PresenceEntry[], machineId: string) => entries.find(e => e.machineId === machineId)

describe("presence between peers", () => {
  it("says how each link is carried, as the machine at its start attached it, through the relay", async () => {
    const relay = await peer()
    const phone = await peer()
    const laptop = await peer()
    const { dial } = serve(relay.peer, { transport: "tcp" })
    dial(phone.peer, { transport: "tcp" })
    dial(laptop.peer, { transport: "ws" })
    const relayId = relay.machine.machineId
    await waitFor(() => (entryOf(laptop.peer.presence.get(), relayId)?.links.length ?? 0) === 2, 5_000)
    await waitFor(() => entryOf(laptop.peer.presence.get(), phone.machine.machineId)?.links.length === 1, 5_000)
    // The relay's links are its server's; the phone's and the laptop's own are their clients'.
    expect(entryOf(laptop.peer.presence.get(), relayId)!.links.map(l => l.transport)).toEqual(["tcp", "tcp"])
    expect(entryOf(laptop.peer.presence.get(), phone.machine.machineId)!.links).toMatchObject([{ machineId: relayId, transport: "tcp" }])
    expect(laptop.peer.presence.get()[0]!.links).toMatchObject([{ machineId: relayId, transport: "ws" }])
  })

  it("a phone behind a relay shows up on the laptop, with its state and the relay's links; link types only where readable", async () => {
    const { relay, phone, laptop } = await phoneRelayLaptop()

    phone.peer.presence.set({ status: "on the train" })
    const seen: PresenceEntry[][] = []
    laptop.peer.presence.subscribe(entries => seen.push(entries))
    await waitFor(() => entryOf(seen.at(-1) ?? [], phone.machine.machineId)?.state.status === "on the train", 5_000)
    const atLaptop = seen.at(-1)!
    expect(entryOf(atLaptop, phone.machine.machineId)).toMatchObject({
      via: relay.machine.machineId,
      links: [{ machineId: relay.machine.machineId }],
    })
    await waitFor(() => (entryOf(laptop.peer.presence.get(), relay.machine.machineId)?.links.length ?? 0) === 2, 5_000)
    // The laptop may read every type: it sees what the relay syncs with each.
    const relayAtLaptop = entryOf(laptop.peer.presence.get(), relay.machine.machineId)!
    expect(Object.fromEntries(relayAtLaptop.links.map(l => [l.machineId, l.types]))).toEqual({
      [phone.machine.machineId]: ["task"],
      [laptop.machine.machineId]: ["*"],
    })
    // The phone may read only tasks: the relay's link to the laptop reaches it without "*" (or any type it may not see).
    await waitFor(() => (entryOf(phone.peer.presence.get(), relay.machine.machineId)?.links.length ?? 0) === 2, 5_000)
    const relayAtPhone = entryOf(phone.peer.presence.get(), relay.machine.machineId)!
    expect(Object.fromEntries(relayAtPhone.links.map(l => [l.machineId, l.types]))).toEqual({
      [phone.machine.machineId]: ["task"],
      [laptop.machine.machineId]: [],
    })
    // Its own entry first, with its own links.
    expect(phone.peer.presence.get()[0]).toMatchObject({ machineId: phone.machine.machineId, state: { status: "on the train" } })
  })

  it("a cursor on a document reaches, through the relay, the peers that have it open and may read it; never others", async () => {
    const { relay, phone, laptop } = await phoneRelayLaptop()
    const task = await laptop.peer.db.create(Task, { title: "shared" })
    const secret = await laptop.peer.db.create(Secret, { code: "1234" })
    await waitFor(() => phone.peer.db.catalog.get(task.id) && relay.peer.db.catalog.get(secret.id), 5_000)

    const atPhone = await phone.peer.presence.document(task.id)
    const atRelay = await relay.peer.presence.document(task.id)
    const atLaptop = await laptop.peer.presence.document(task.id)
    const got: { message: unknown; from: { machineId?: string } }[] = []
    atPhone.subscribe((message, from) => got.push({ message, from }))
    // Sent until it arrives: each side's live sync of the document starts when it opens its channel.
    await waitFor(() => {
      atLaptop.send({ cursor: 3 })
      return got.length > 0
    }, 5_000)
    expect(got[0]!.message).toEqual({ cursor: 3 })
    // automerge-repo names the connection it came by: the relay passed it on.
    expect(got[0]!.from.machineId).toBe(relay.machine.machineId)

    // A secret's cursor: the relay has it open, the phone may not read it and never hears of it.
    const secretAtRelay = await relay.peer.presence.document(secret.id)
    const secretAtLaptop = await laptop.peer.presence.document(secret.id)
    const relayGot: unknown[] = []
    secretAtRelay.subscribe(message => relayGot.push(message))
    await waitFor(() => {
      secretAtLaptop.send({ cursor: 1 })
      return relayGot.length > 0
    }, 5_000)
    const phoneHandles = Object.keys(phone.peer.repo.handles)
    expect(phoneHandles).not.toContain(secret.id)
    // Passed on by the relay (as automerge-repo relays ephemeral messages), the phone's connection stayed up.
    const states = phone.peer.replicator.status().map(s => s.state)
    expect(states).toHaveLength(1)
    expect(states).not.toContain("closed")
    expect(() => atLaptop.send({ big: "x".repeat(5000) })).toThrow(/at most 4096 bytes/)
    for (const channel of [atPhone, atRelay, atLaptop, secretAtRelay, secretAtLaptop]) channel.close()
  }, 30_000)

  it("refuses a state that is not a small JSON object", async () => {
    const { peer: p } = await peer()
    expect(() => p.presence.set({ big: "x".repeat(5000) })).toThrow(PresenceError)
    expect(() => p.presence.set([] as unknown as Record<string, unknown>)).toThrow(/a JSON object/)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => p.presence.set(cyclic)).toThrow(/must be JSON/)
  })
})

/** Presence over links driven by hand. */
class HandLinks extends Emitter<{
  linked: LinkedPeer
  unlinked: { peerId: string }
  presence: { peerId: string; message: PresenceMessage }
}> {
  fire<K extends "linked" | "unlinked" | "presence">(event: K, payload: Parameters<HandLinks["emit"]>[1] & object) {
    this.emit(event, payload as never)
  }
}

/** A linked peer that records what it is sent. */
function linkTo(peerId: string, machineId: string, mayRead: (type: string) => boolean = () => true) {
  const sent: PresenceMessage[] = []
  const link: LinkedPeer = { peerId, machineId, types: ["*"], mayRead, send: message => sent.push(message) }
  return { link, sent }
}

/** A signed presence message of `machine`, as its Presence would send it. */
async function presenceOf(machine: Machine, seq: number, state: Record<string, unknown>, links: string[] = []): Promise<PresenceMessage> {
  const body = JSON.stringify({ machineId: machine.machineId, seq, at: Date.now(), state, links })
  return {
    t: "presence",
    body,
    sig: await machine.sign(new TextEncoder().encode(body)),
    key: machine.publicKey,
    types: links.map(() => ["task", "secret"]),
    hops: 8,
  }
}

describe("Presence against hostile and vanished peers", () => {
  it("keeps a machine's signed state, passes it on with readable types only, and ignores forgeries and replays", async () => {
    const me = await Machine.generate()
    const alice = await Machine.generate()
    const mallory = await Machine.generate()
    const links = new HandLinks()
    const presence = new Presence(links, me, { heartbeatMs: 60_000 })
    open.push(presence)
    const fromAlice = linkTo("p-alice", alice.machineId)
    const other = linkTo("p-other", "f".repeat(32), type => type === "task")
    links.fire("linked", fromAlice.link)
    links.fire("linked", other.link)

    links.fire("presence", { peerId: "p-alice", message: await presenceOf(alice, 2, { status: "here" }, [me.machineId]) })
    await waitFor(() => entryOf(presence.get(), alice.machineId)?.state.status === "here", 2_000)
    // Passed on to the other link, one hop fewer, with only the types it may read.
    await waitFor(() => other.sent.some(m => m.body.includes('"here"')), 2_000)
    const forwarded = other.sent.find(m => m.body.includes('"here"'))!
    expect(forwarded.hops).toBe(7)
    expect(forwarded.types).toEqual([["task"]])
    expect(fromAlice.sent.some(m => m.body.includes('"here"'))).toBe(false)

    // Mallory signs a state claiming to be Alice: its key's machine id is not Alice's.
    const forged = await presenceOf(mallory, 9, { status: "forged" })
    forged.body = forged.body.replace(mallory.machineId, alice.machineId)
    links.fire("presence", { peerId: "p-alice", message: { ...forged, sig: await mallory.sign(new TextEncoder().encode(forged.body)) } })
    // Alice's key, but a body changed after signing.
    const tampered = await presenceOf(alice, 10, { status: "real" })
    links.fire("presence", { peerId: "p-alice", message: { ...tampered, body: tampered.body.replace("real", "fake") } })
    // An older state of Alice, replayed.
    await sleep(150)
    links.fire("presence", { peerId: "p-alice", message: await presenceOf(alice, 1, { status: "old" }) })
    await sleep(200)
    expect(entryOf(presence.get(), alice.machineId)?.state.status).toBe("here")
    // From a peer that is not linked: nothing.
    links.fire("presence", { peerId: "stranger", message: await presenceOf(mallory, 1, { status: "unlinked" }) })
    await sleep(100)
    expect(entryOf(presence.get(), mallory.machineId)).toBeUndefined()
  })

  it("checks a flood of updates from one machine two at a time, keeping the newest, and forgets a machine gone silent", async () => {
    const me = await Machine.generate()
    const alice = await Machine.generate()
    const links = new HandLinks()
    const presence = new Presence(links, me, { heartbeatMs: 50, expireMs: 300 })
    open.push(presence)
    links.fire("linked", linkTo("p-alice", alice.machineId).link)
    const changes: PresenceEntry[][] = []
    presence.subscribe(entries => changes.push(entries))
    const before = changes.length
    const flood = await Promise.all(Array.from({ length: 20 }, (_, i) => presenceOf(alice, i + 1, { n: i + 1 })))
    for (const message of flood) links.fire("presence", { peerId: "p-alice", message })
    // The newest state gets through, but not every one of the 20 was checked and taken: the first, and the last.
    await waitFor(() => entryOf(presence.get(), alice.machineId)?.state.n === 20, 2_000)
    const taken = changes.slice(before).filter(entries => entryOf(entries, alice.machineId) !== undefined)
    expect(taken.length).toBeLessThanOrEqual(3)
    await waitFor(() => entryOf(changes.at(-1)!, alice.machineId) === undefined, 2_000)
    expect(presence.get().map(e => e.machineId)).toEqual([me.machineId])
  })
})
