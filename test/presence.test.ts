/**
 * Presence across processes, as it runs in life: phone → relay ← laptop, three
 * OS processes, the relay with no app (no definitions, every type kept). The
 * laptop sees the phone's state through the relay; the phone's state expires
 * once it is killed; a cursor on a document reaches the other side and is in
 * nobody's store; a machine without read on a type hears nothing about its
 * documents.
 */
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { PeerProcess, TempDirs, eventually } from "./helpers/PeerProcess.js"

const dirs = new TempDirs()
const running: PeerProcess[] = []
afterAll(async () => {
  await Promise.all(running.map(p => p.kill()))
  await dirs.cleanup()
})

// Republished every 300 ms and dropped after 900 ms of silence (10 s and 30 s by default).
const PRESENCE_MS = 300

async function start(options: { name: string; relay?: boolean }): Promise<{ peer: PeerProcess; dir: string; info: any }> {
  const dir = await dirs.make(`cairn-${options.name}-`)
  const peer = await PeerProcess.start({ dir, auth: "trust", presenceMs: PRESENCE_MS, ...options })
  running.push(peer)
  return { peer, dir, info: await peer.call("info") }
}

type Entry = {
  machineId: string
  name?: string
  state: Record<string, unknown>
  via?: string
  links: { machineId: string; types: string[] }[]
}

describe("presence across processes: phone → relay ← laptop", () => {
  it("the laptop sees the phone's state through the relay, cursors cross without being stored, grants hold, and a killed phone expires", async () => {
    const relay = await start({ name: "relay", relay: true })
    const phone = await start({ name: "phone" })
    const laptop = await start({ name: "laptop" })
    // The phone may read and write tasks and notes; the laptop tasks only.
    await relay.peer.call("trust", { publicKey: phone.info.publicKey, read: ["task", "note"], write: ["task", "note"] })
    await relay.peer.call("trust", { publicKey: laptop.info.publicKey, read: ["task"], write: ["task"] })
    for (const side of [phone, laptop]) await side.peer.call("trust", { publicKey: relay.info.publicKey, read: "*", write: "*" })
    const { url } = await relay.peer.call("listen")
    const task = await phone.peer.call("create", { type: "task", data: { title: "shared" } })
    const note = await phone.peer.call("create", { type: "note", data: { body: "private" } })
    for (const side of [phone, laptop]) await side.peer.call("connect", { url })
    await phone.peer.call("synced")
    await eventually(async () => (await laptop.peer.call("entry", { id: task })) !== null)

    await phone.peer.call("presenceSet", { state: { status: "on the train", battery: 71 } })
    const phoneSeen = await eventually(async () => {
      const entries: Entry[] = await laptop.peer.call("presence")
      const entry = entries.find(e => e.machineId === phone.info.machineId)
      return entry?.state.status === "on the train" ? entries : undefined
    })
    const phoneAtLaptop = phoneSeen!.find(e => e.machineId === phone.info.machineId)!
    expect(phoneAtLaptop).toMatchObject({ name: "phone", via: relay.info.machineId, state: { battery: 71 } })
    expect(phoneAtLaptop.links.map(l => l.machineId)).toEqual([relay.info.machineId])
    // The relay's links as the laptop sees them: the phone's syncs only name types the laptop may read.
    const relayAtLaptop = await eventually(async () => {
      const entries: Entry[] = await laptop.peer.call("presence")
      const entry = entries.find(e => e.machineId === relay.info.machineId)
      return entry?.links.length === 2 ? entry : undefined
    })
    const phoneLink = relayAtLaptop!.links.find(l => l.machineId === phone.info.machineId)!
    expect(phoneLink.types).not.toContain("note")
    expect(phoneLink.types).not.toContain("*")

    // A cursor on the task: sent by the phone, it reaches the laptop through the relay.
    await laptop.peer.call("channelOpen", { id: task })
    await phone.peer.call("channelOpen", { id: task })
    const marker = `cursor-marker-${Math.random().toString(36).slice(2)}`
    const got = await eventually(async () => {
      await phone.peer.call("channelSend", { id: task, message: { cursor: 7, marker } })
      const received = await laptop.peer.call("channelReceived", { id: task })
      return received.length > 0 && received
    })
    expect(got[0].message).toEqual({ cursor: 7, marker })
    expect(got[0].from.machineId).toBe(relay.info.machineId)
    // The laptop may not read notes: it never holds the note, and a cursor on it goes nowhere near it.
    await phone.peer.call("channelOpen", { id: note })
    const noteMarker = `note-marker-${Math.random().toString(36).slice(2)}`
    for (let i = 0; i < 5; i++) await phone.peer.call("channelSend", { id: note, message: { cursor: 1, marker: noteMarker } })
    // A later message on the task arriving shows the note's had their chance to arrive first.
    await eventually(async () => {
      await phone.peer.call("channelSend", { id: task, message: { cursor: 8, marker } })
      const received: { message: { cursor: number } }[] = await laptop.peer.call("channelReceived", { id: task })
      return received.some(r => r.message.cursor === 8)
    })
    expect(await laptop.peer.call("entry", { id: note })).toBeNull()
    // A message about a document makes automerge-repo open a handle for it: the laptop has none for the note.
    expect(await laptop.peer.call("handles")).not.toContain(note)
    expect(await relay.peer.call("handles")).toContain(note)
    const laptopReceived = JSON.stringify(await laptop.peer.call("channelReceived", { id: task }))
    expect(laptopReceived).not.toContain(noteMarker)
    expect(laptop.peer.stderr.join("")).not.toContain(noteMarker)

    // Kill the phone: the relay drops its link at once, and the laptop forgets the phone once it has been silent.
    await phone.peer.kill()
    await eventually(async () => {
      const entries: Entry[] = await laptop.peer.call("presence")
      const relayEntry = entries.find(e => e.machineId === relay.info.machineId)
      return !entries.some(e => e.machineId === phone.info.machineId) && relayEntry?.links.length === 1
    }, 10_000)

    // Ephemeral means never stored: the markers are in no process's data directory.
    await Promise.all([relay.peer.stop(), laptop.peer.stop()])
    for (const side of [relay, phone, laptop]) {
      const log = await readFile(join(side.dir, "store", "storage.log")).catch(() => readFile(join(side.dir, "storage.log")))
      expect(log.includes(marker), `${side.info.machineId} stored a cursor`).toBe(false)
      expect(log.includes(noteMarker)).toBe(false)
      // The documents themselves are stored: the search would find what is there.
      if (side !== laptop) expect(log.includes("private")).toBe(true)
    }
  }, 60_000)
})
