import { describe, expect, it } from "vitest"
import { defineType, f, fromHex, Machine, machineIdFromPublicKey, machineIdOfActor, toHex, verifySignature } from "../src/index.js"
import { openDb } from "./helpers.js"

const message = new TextEncoder().encode("hello, peer")

describe("Machine", () => {
  it("generates a machine whose id is derived from its public key", async () => {
    const machine = await Machine.generate({ name: "laptop" })
    expect(machine.machineId).toMatch(/^[0-9a-f]{32}$/)
    expect(machine.publicKey).toMatch(/^[0-9a-f]{64}$/)
    expect(machine.name).toBe("laptop")
    expect(await machineIdFromPublicKey(fromHex(machine.publicKey))).toBe(machine.machineId)
    const other = await Machine.generate()
    expect(other.machineId).not.toBe(machine.machineId)
  })

  it("signs, and the signature verifies with its public key only", async () => {
    const machine = await Machine.generate()
    const other = await Machine.generate()
    const signature = await machine.sign(message)
    expect(signature.byteLength).toBe(64)
    expect(await verifySignature(machine.publicKey, message, signature)).toBe(true)
    expect(await verifySignature(other.publicKey, message, signature)).toBe(false)
    expect(await verifySignature(machine.publicKey, new TextEncoder().encode("hello, peer!"), signature)).toBe(false)
    const forged = signature.slice()
    forged[0]! ^= 1
    expect(await verifySignature(machine.publicKey, message, forged)).toBe(false)
    expect(await verifySignature("not hex", message, signature)).toBe(false)
  })

  it("round-trips through its JSON form and keeps signing as the same machine", async () => {
    const machine = await Machine.generate({ name: "desk", extractable: true })
    const json = await machine.toJSON()
    expect(json).toEqual({
      machineId: machine.machineId,
      publicKey: machine.publicKey,
      privateKey: expect.stringMatching(/^[0-9a-f]+$/),
      name: "desk",
    })
    const loaded = await Machine.fromJSON(JSON.parse(JSON.stringify(json)))
    expect(loaded.machineId).toBe(machine.machineId)
    expect(loaded.publicKey).toBe(machine.publicKey)
    expect(loaded.name).toBe("desk")
    expect(await verifySignature(machine.publicKey, message, await loaded.sign(message))).toBe(true)
    expect(await loaded.toJSON()).toEqual(json)
  })

  it("cannot export a key that was generated non-extractable", async () => {
    const machine = await Machine.generate()
    await expect(machine.toJSON()).rejects.toThrow()
  })

  it("refuses a stored identity whose id does not belong to its key", async () => {
    const json = await (await Machine.generate({ extractable: true })).toJSON()
    const otherId = (await Machine.generate()).machineId
    await expect(Machine.fromJSON({ ...json, machineId: otherId })).rejects.toThrow(/id [0-9a-f]{32} does not belong to its public key/)
  })

  it("refuses a stored identity whose private key is not the public key's pair", async () => {
    const mine = await (await Machine.generate({ extractable: true })).toJSON()
    const theirs = await (await Machine.generate({ extractable: true })).toJSON()
    // Someone else's id and public key with my private key: the id checks out, but I could not sign as that machine.
    await expect(Machine.fromJSON({ ...theirs, privateKey: mine.privateKey })).rejects.toThrow(/private key does not match/)
  })

  it("refuses a stored identity that is not hex", async () => {
    const json = await (await Machine.generate({ extractable: true })).toJSON()
    await expect(Machine.fromJSON({ ...json, publicKey: "zz" })).rejects.toThrow()
    await expect(Machine.fromJSON({ ...json, privateKey: "00" })).rejects.toThrow()
  })

  it("gives a copy with another name", async () => {
    const machine = await Machine.generate({ name: "a" })
    const renamed = machine.withName("b")
    expect(renamed.name).toBe("b")
    expect(renamed.machineId).toBe(machine.machineId)
    expect(machine.name).toBe("a")
  })
})

describe("machine ids in changes", () => {
  it("names the machine in every change's history entry, with no extra operations", async () => {
    const Task = defineType("task", { fields: { title: f.string() } })
    const { db, machine } = await openDb({ types: [Task] })
    const doc = await db.create(Task, { title: "a" })
    await db.change(Task, doc.id, d => (d.title = "b"))
    await db.delete(doc.id)
    const history = await db.history(doc.id)
    expect(history).toHaveLength(3)
    for (const entry of history) expect(entry.machineId).toBe(machine.machineId)
    expect(doc.createdBy).toBe(machine.machineId)
  })

  it("reads the machine from an actor id", () => {
    const id = "0123456789abcdef0123456789abcdef"
    expect(machineIdOfActor(id + "fedcba9876543210")).toBe(id)
    expect(toHex(fromHex("00ff10"))).toBe("00ff10")
    expect(() => fromHex("abc")).toThrow(TypeError)
  })
})
