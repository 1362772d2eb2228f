import * as A from "@automerge/automerge"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { newSessionActor } from "../src/identity/actor.js"
import { Machine } from "../src/identity/Machine.js"
import { makeVouch, packVouches, unpackVouches, unvouched, type Vouch, vouchedHash, vouchSigner } from "../src/identity/vouch.js"
import { fromHex } from "../src/identity/actor.js"

const DOC = "4NMNnkMhL8jXrdJ9jamS58PAVdXu"
const [alice, bob, mallory] = await Promise.all([Machine.generate(), Machine.generate(), Machine.generate()])

function links(doc: A.Doc<unknown>, since: A.Heads = []) {
  return A.getChangesSince(doc, since).map(bytes => {
    const { hash, actor, deps } = A.decodeChange(bytes)
    return { hash: hash!, actor, deps }
  })
}

describe("a vouch", () => {
  it("is by the machine whose key signed it, for the document and change it names", async () => {
    const hash = "ab".repeat(32)
    const vouch = await makeVouch(alice, DOC, hash)
    expect(vouch.byteLength).toBe(128)
    expect(vouchedHash(vouch)).toBe(hash)
    expect(await vouchSigner(DOC, vouch)).toBe(alice.machineId)
    expect(await vouchSigner(`${DOC}x`, vouch)).toBeUndefined()
    const otherHash = vouch.slice()
    otherHash.set(fromHex("cd".repeat(32)), 0)
    expect(await vouchSigner(DOC, otherHash)).toBeUndefined()
    // Another machine's key with this signature, as a relay claiming someone else signed: refused.
    const otherKey = vouch.slice()
    otherKey.set(fromHex(bob.publicKey), 32)
    expect(await vouchSigner(DOC, otherKey)).toBeUndefined()
    const flipped = vouch.slice()
    flipped[127] = flipped[127]! ^ 1
    expect(await vouchSigner(DOC, flipped)).toBeUndefined()
  })

  it("of the wrong shape is refused, never thrown on", async () => {
    const good = await makeVouch(alice, DOC, "00".repeat(32))
    for (const bad of [null, 1, "x", {}, good.slice(0, 127), new Uint8Array([...good, 0])])
      expect(await vouchSigner(DOC, bad)).toBeUndefined()
    expect(() => makeVouch(alice, DOC, "AB".repeat(32))).rejects.toThrow(TypeError)
  })

  it("packs one after another and unpacks to the same, and refuses a part of one", async () => {
    const vouches = [await makeVouch(alice, DOC, "01".repeat(32)), await makeVouch(bob, DOC, "02".repeat(32))]
    expect(unpackVouches(packVouches(vouches))).toEqual(vouches)
    expect(unpackVouches(packVouches(vouches).subarray(1))).toBeUndefined()
    expect(unpackVouches(undefined)).toEqual([])
  })
})

describe("unvouched", () => {
  it("finds a change that names a machine which never vouched for it (forged attribution)", async () => {
    let honest = A.change(A.init<{ n: number }>({ actor: newSessionActor(alice.machineId) }), d => (d.n = 1))
    const vouch = await makeVouch(alice, DOC, A.getHeads(honest)[0]!)
    // Mallory writes under Alice's machine id (a fresh session suffix) and signs with her own key.
    const forged = A.change(A.clone(honest, { actor: newSessionActor(alice.machineId) }), d => (d.n = 2))
    const forgedVouch = await makeVouch(mallory, DOC, A.getHeads(forged)[0]!)
    honest = A.merge(honest, forged)
    const checked = [
      { hash: vouchedHash(vouch), machineId: (await vouchSigner(DOC, vouch))! },
      { hash: vouchedHash(forgedVouch), machineId: (await vouchSigner(DOC, forgedVouch))! },
    ]
    const left = unvouched(links(honest), checked)
    expect(left.map(change => change.hash)).toEqual(A.getHeads(forged))
  })

  it("matches a model over random histories of two honest machines and one forger", async () => {
    type Step = { who: 0 | 1 | 2; merge: 0 | 1 | 2 | null }
    const step = fc.record({ who: fc.constantFrom<0 | 1 | 2>(0, 1, 2), merge: fc.option(fc.constantFrom<0 | 1 | 2>(0, 1, 2)) })
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 25 }),
        fc.nat(30),
        fc.boolean(),
        async (steps: Step[], cut, withholdBob) => {
          const machines = [alice, bob]
          // Copy 2 is the forger's: changes under Alice's machine id, never vouched for by Alice.
          const actors = [newSessionActor(alice.machineId), newSessionActor(bob.machineId), newSessionActor(alice.machineId)]
          const copies = actors.map(actor => A.init<{ n: number }>({ actor: actor as A.ActorId }))
          const latest: (string | undefined)[] = [undefined, undefined]
          let n = 0
          for (const { who, merge } of steps) {
            // An honest machine merges only honest copies (it would refuse the forger's changes on arrival).
            if (merge !== null && merge !== who && (who === 2 || merge !== 2)) copies[who] = A.merge(copies[who]!, copies[merge]!)
            copies[who] = A.change(copies[who]!, d => (d.n = ++n))
            // A change depends on every head of its copy, so it is the copy's one head.
            const [head] = A.getHeads(copies[who]!)
            if (who !== 2) latest[who] = head
          }
          const everything = copies.reduce((a, b) => A.merge(A.clone(a), b))
          // A receiver holding a random prefix of the history is sent the rest.
          const all = links(everything)
          const held = A.applyChanges(A.init(), A.getAllChanges(everything).slice(0, Math.min(cut, all.length)))[0]
          const message = links(everything, A.getHeads(held))
          const vouches: Vouch[] = []
          for (const [i, hash] of latest.entries())
            if (hash && !(i === 1 && withholdBob)) vouches.push(await makeVouch(machines[i]!, DOC, hash))
          const checked = await Promise.all(vouches.map(async v => ({ hash: vouchedHash(v), machineId: (await vouchSigner(DOC, v))! })))
          const left = new Set(unvouched(message, checked).map(change => change.hash))
          // Alice's vouch reaches Bob's changes she merged, but vouches only for her own: without Bob's, his are left.
          const expected = message.filter(change => change.actor === actors[2] || (withholdBob && change.actor === actors[1]))
          expect([...left].sort()).toEqual(expected.map(change => change.hash).sort())
        },
      ),
      { numRuns: 60 },
    )
  })
})
