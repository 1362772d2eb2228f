import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { defineType, f, fromHex, Machine, modifiedAtOf, readEnvelope, verifyCreation } from "../src/index.js"
import { openDb } from "./helpers.js"

const machineId = "0123456789abcdef0123456789abcdef"
const actor = (machine: string) => machine + "00000000000000aa"

/** A document laid out the way Cairn writes one: envelope keys in order, in the first change. */
function cairnDoc(options: { type?: string; createdBy?: string; actorMachine?: string; time?: number } = {}) {
  return A.change(A.init<any>({ actor: actor(options.actorMachine ?? machineId) }), { time: options.time ?? 1_700_000_000_000 }, d => {
    d.v = 1
    d.type = new A.ImmutableString(options.type ?? "task")
    d.createdBy = new A.ImmutableString(options.createdBy ?? machineId)
    d.createdAt = 1_700_000_000_000
    d.typeVersion = 2
    d.deletedAt = null
    d.data = { title: new A.ImmutableString("t") }
    d.creatorKey = new Uint8Array(32)
    d.proof = new Uint8Array(64)
  })
}

describe("readEnvelope", () => {
  it("reads the metadata of a well-formed document", () => {
    expect(readEnvelope(cairnDoc())).toEqual({
      ok: true,
      meta: { type: "task", createdBy: machineId, createdAt: 1_700_000_000_000, typeVersion: 2, deletedAt: null, actor: actor(machineId) },
    })
  })

  it("reads what the database writes", async () => {
    const Task = defineType("task", { fields: { title: f.string() } })
    const { db, machine } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "a" })
    const loaded = A.load((await db.replica.store.readStored(doc.id))!)
    const result = readEnvelope(loaded)
    expect(result).toEqual({
      ok: true,
      meta: {
        type: "task",
        createdBy: machine.machineId,
        createdAt: doc.createdAt,
        typeVersion: 1,
        deletedAt: null,
        actor: A.getAllChanges(loaded).map(c => A.decodeChange(c).actor)[0],
      },
    })
    expect(result.ok && result.meta.actor.startsWith(machine.machineId)).toBe(true)
  })

  it("refuses a document with no envelope", () => {
    const doc = A.change(A.init<any>(), d => (d.title = "plain automerge"))
    expect(readEnvelope(doc)).toEqual({ ok: false, reason: "not a Cairn document (no envelope)" })
  })

  it("refuses a type that was changed after creation", () => {
    const changed = A.change(A.clone(cairnDoc(), { actor: actor("ff".repeat(16)) }), d => (d.type = new A.ImmutableString("note")))
    expect(readEnvelope(changed)).toEqual({ ok: false, reason: "its type was changed after creation" })
    // Even by the creating machine itself, in a later change.
    const byCreator = A.change(cairnDoc(), d => (d.type = new A.ImmutableString("note")))
    expect(readEnvelope(byCreator)).toEqual({ ok: false, reason: "its type was changed after creation" })
  })

  it("refuses a type set concurrently by two peers", () => {
    const base = cairnDoc()
    const left = A.change(A.clone(base, { actor: actor("aa".repeat(16)) }), d => (d.type = new A.ImmutableString("note")))
    const right = A.change(A.clone(base, { actor: actor("bb".repeat(16)) }), d => (d.type = new A.ImmutableString("event")))
    expect(readEnvelope(A.merge(left, right))).toMatchObject({ ok: false, reason: "its type was set concurrently to 2 values" })
  })

  it("refuses an invalid type name", () => {
    expect(readEnvelope(cairnDoc({ type: "Not Valid" }))).toEqual({ ok: false, reason: "its type is not a valid type name" })
  })

  it("refuses a creator that is not the machine that made the first change", () => {
    const forged = cairnDoc({ createdBy: "ff".repeat(16) })
    expect(readEnvelope(forged)).toEqual({ ok: false, reason: "its creator does not match the machine that created it" })
    const rewritten = A.change(
      A.clone(cairnDoc(), { actor: actor("ee".repeat(16)) }),
      d => (d.createdBy = new A.ImmutableString("ee".repeat(16))),
    )
    expect(readEnvelope(rewritten)).toMatchObject({ ok: false })
  })

  it("refuses a malformed body", () => {
    const noData = A.change(cairnDoc(), d => (d.data = [] as never))
    expect(readEnvelope(noData)).toEqual({ ok: false, reason: "data is not a map" })
    const badDeleted = A.change(cairnDoc(), d => (d.deletedAt = "yesterday"))
    expect(readEnvelope(badDeleted)).toEqual({ ok: false, reason: "deletedAt is not a number or null" })
  })
})

describe("modifiedAtOf", () => {
  it("is the time of the latest change, in milliseconds, reading small times as seconds", () => {
    const doc = cairnDoc({ time: 1_700_000_000_000 })
    expect(modifiedAtOf(doc)).toBe(1_700_000_000_000)
    const later = A.change(doc, { time: 1_700_000_005_000 }, d => (d.deletedAt = 1))
    expect(modifiedAtOf(later)).toBe(1_700_000_005_000)
    // Automerge's own default is seconds: another writer's change is read as seconds.
    const inSeconds = A.change(later, { time: 1_800_000_000 }, d => (d.deletedAt = 2))
    expect(modifiedAtOf(inSeconds)).toBe(1_800_000_000_000)
  })
})

describe("verifyCreation", () => {
  it("accepts what the database writes", async () => {
    const Task = defineType("task", { fields: { title: f.string() } })
    const { db } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "a" })
    const stored = A.load((await db.replica.store.readStored(doc.id))!)
    expect(await verifyCreation(doc.id, stored)).toBeUndefined()
    // The proof binds the id: the same document under another id does not verify.
    expect(await verifyCreation("2".repeat(28), stored)).toMatch(/does not verify/)
  })

  it("refuses a document made under another machine's actor id", async () => {
    const victim = await Machine.generate()
    const forger = await Machine.generate()
    const id = "3vQB7B6MrGQZaxCuFg4oh"
    // The forger writes the creation with the victim's machine id in the actor, and signs with its own key.
    const forgerActor = victim.machineId + "00000000000000aa"
    const forged = A.change(A.init<any>({ actor: forgerActor }), { time: 1 }, d => {
      d.v = 1
      d.type = new A.ImmutableString("task")
      d.createdBy = new A.ImmutableString(victim.machineId)
      d.createdAt = 1
      d.typeVersion = 1
      d.deletedAt = null
      d.data = {}
      d.creatorKey = fromHex(forger.publicKey)
      d.proof = new Uint8Array(64)
    })
    expect(readEnvelope(forged).ok).toBe(true)
    expect(await verifyCreation(id, forged)).toBe("its creator key is not the creating machine's")
    // With the victim's public key instead, the signature (made by the forger) does not verify.
    const withVictimKey = A.change(A.init<any>({ actor: forgerActor }), { time: 1 }, d => {
      Object.assign(d, {
        v: 1,
        type: new A.ImmutableString("task"),
        createdBy: new A.ImmutableString(victim.machineId),
        createdAt: 1,
        typeVersion: 1,
        deletedAt: null,
        data: {},
      })
      d.creatorKey = fromHex(victim.publicKey)
      d.proof = new Uint8Array(64).fill(0x11)
    })
    expect(await verifyCreation(id, withVictimKey)).toMatch(/does not verify/)
  })

  it("refuses a document without a proof", async () => {
    const bare = A.change(A.init<any>({ actor: actor(machineId) }), d => {
      Object.assign(d, {
        v: 1,
        type: new A.ImmutableString("task"),
        createdBy: new A.ImmutableString(machineId),
        createdAt: 1,
        typeVersion: 1,
        deletedAt: null,
        data: {},
      })
    })
    expect(readEnvelope(bare)).toMatchObject({ ok: false, reason: "its creatorKey is missing, was changed or was set concurrently" })
    expect(await verifyCreation("x", bare)).toBe("it has no creation proof")
  })
})
