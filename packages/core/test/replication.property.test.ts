/**
 * Property-based tests of the replication protocol against a model
 * (ReplicationModel.ts), beside the seeded fuzzing across processes in
 * test/reliability. fast-check draws three or four peers (each with its
 * wants, or a relay; its batch size; fast or slow storage), the read and
 * write grants each gives each other, how late links deliver, and a
 * sequence of commands: create a document, set its register, increment its
 * counter (on one peer, or on every peer that holds it at once), delete,
 * restore and purge it, watch it (subscribe) or stop, connect and
 * disconnect a pair, change the grants one peer gives another (a reconnect
 * with the new grants), restart a peer (close it and open it again on the
 * same in-memory storage), pause, call one peer's whenSynced, and wait for
 * quiescence (every peer in sync).
 *
 * What must hold:
 * - at every quiescence point, and at the end once every pair is connected
 *   and quiescent: each peer holds only changes that a path of links open at
 *   the time, along which every peer kept the type, read grants let it out
 *   and write grants let it in, could have brought (so never a type it does
 *   not keep, nor a write its neighbour did not grant); it holds every
 *   change the links open now carry from its neighbours (so heads are equal
 *   wherever a type flows both ways), and everything it held at the last
 *   quiescence point; its counter is the sum of the increments it holds, its
 *   register one of the values written by them, its deletion follows from
 *   the deletes and restores it holds; catalog, documents and lists agree;
 * - on the wire, a peer names to another (offers, documents) only ids of
 *   types that peer keeps and may read;
 * - after one peer's whenSynced resolves, every linked peer holds what it
 *   held before, of the types that flow there;
 * - a restart loses nothing (heads and purges), and after every peer is in
 *   sync, restarting all of them and reconnecting moves no document.
 *
 * ReplicationRun.ts runs one drawn case and makes these checks. Peers are
 * wired as the Node peer wires them (ReplicationPeers.ts), so
 * watched documents also sync live through automerge-repo, under the same
 * grants (its share config and the inbound write filter, copied from
 * PeerNetwork). Any peer may connect to any other: the model is exact by
 * keeping bounds, not a schedule (see ReplicationModel.ts). What it leaves
 * out: peers are honest (the hostile ones are in test/hostile.test.ts);
 * restarts are graceful (crashes are test/reliability/crash.test.ts's); a
 * link delivers messages in order and drops those in flight when it is cut.
 *
 * It runs CAIRN_PROPERTY_RUNS sequences (default 80) from seed
 * CAIRN_PROPERTY_SEED (default fixed, so CI runs the same ones). A failure
 * is shrunk (for at most CAIRN_PROPERTY_TIME_LIMIT_S, default 180, for the
 * whole check) and printed with its seed, the path of the shrunk case and
 * its steps; replay exactly that case with
 *   CAIRN_PROPERTY_SEED=<seed> CAIRN_PROPERTY_PATH=<path> npx vitest run packages/core/test/replication.property.test.ts
 * (add CAIRN_PROPERTY_WIRE=1 to see every control message among the steps).
 * The seed fixes the case, not the timing of messages in it: a failure that
 * depends on a race may need a few replays.
 */
import fc from "fast-check"
import { describe, expect, it, onTestFinished, vi } from "vitest"
import type { Grants, TypeSelection } from "../src/index.js"
import { sleep } from "./helpers.js"
import { Links, TestPeer, type TestPeerSpec } from "./ReplicationPeers.js"
import { definitions, runCase, TYPES, type Command, type Setup } from "./ReplicationRun.js"

const selection = fc.oneof(
  { weight: 1, arbitrary: fc.constant<TypeSelection>("*") },
  { weight: 1, arbitrary: fc.subarray([...TYPES]) as fc.Arbitrary<TypeSelection> },
)
// Mostly wide, so that documents travel far enough for the narrow ones to matter.
const grant = (wide: number) =>
  fc.oneof(
    { weight: wide, arbitrary: fc.constant<TypeSelection>("*") },
    { weight: 2, arbitrary: fc.subarray([...TYPES]) as fc.Arbitrary<TypeSelection> },
  )
// Narrow write grants more often than read grants: a write refused on live sync needs a peer that may read but not write.
const grants: fc.Arbitrary<Grants> = fc.record({ read: grant(3), write: grant(2) })
// Small batches make a handful of documents take several rounds of wants.
const batchSize = fc.constantFrom(1, 2, 250)
// Slow storage widens the windows between reading a document and writing it back.
const storageMs = fc.constantFrom(0, 0, 2)
const peerSpec: fc.Arbitrary<TestPeerSpec> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ wants: selection, relay: fc.constant(false), batchSize, storageMs }) },
  { weight: 1, arbitrary: fc.record({ wants: fc.constant("*" as const), relay: fc.constant(true), batchSize, storageMs }) },
)
const setup: fc.Arbitrary<Setup> = fc.integer({ min: 3, max: 4 }).chain(n =>
  fc.record({
    peers: fc.array(peerSpec, { minLength: n, maxLength: n }),
    grants: fc.array(fc.array(grants, { minLength: n, maxLength: n }), { minLength: n, maxLength: n }),
    latencyMs: fc.constantFrom(0, 0, 3),
    live: fc.boolean(),
  }),
)
const peer = fc.nat(3)
const doc = fc.nat(7)
const title = fc.constantFrom("a", "b", "c")
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("create" as const), peer, type: fc.constantFrom(...TYPES), title }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("title" as const), peer, doc, title }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("increment" as const), peer, doc, by: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete" as const), peer, doc }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("restore" as const), peer, doc }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("purge" as const), peer, doc }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("connect" as const), a: peer, b: peer }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("disconnect" as const), a: peer, b: peer }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("grant" as const), from: peer, to: peer, grants }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("restart" as const), peer }) },
  { weight: 2, arbitrary: fc.constant({ kind: "quiesce" as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("pause" as const), ms: fc.constantFrom(1, 5, 20) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("whenSynced" as const), peer }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("together" as const), doc, by: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("watch" as const), peer, doc }) },
)

const RUNS = Number(process.env.CAIRN_PROPERTY_RUNS ?? 80)
const SEED = Number(process.env.CAIRN_PROPERTY_SEED ?? 20240612)
const PATH = process.env.CAIRN_PROPERTY_PATH
const TIME_LIMIT_MS = Number(process.env.CAIRN_PROPERTY_TIME_LIMIT_S ?? 180) * 1000

describe("replication against a model", () => {
  it(`holds for ${RUNS} random sequences of edits, links, grants and restarts (seed ${SEED})`, {
    timeout: TIME_LIMIT_MS + 60_000,
  }, async () => {
    let lastFailure: { problems: string[]; trace: string[] } | undefined
    // automerge-repo logs these two lines when a purge deletes a document's handle (repo.delete); nothing is wrong.
    const log = console.log
    const quiet = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      if (!/^(error waiting for \w+ to be in one of states|sync with peers threw an exception)/.test(String(args[0]))) log(...args)
    })
    onTestFinished(() => quiet.mockRestore())
    const property = fc.asyncProperty(setup, fc.array(command, { minLength: 10, maxLength: 50, size: "max" }), async (drawn, commands) => {
      const result = await runCase(drawn, commands)
      if (result.problems.length === 0) return true
      lastFailure = result
      return false
    })
    // Shrinking a failure replays many sequences; the whole check stops after TIME_LIMIT_MS and reports the smallest so far.
    const details = await fc.check(property, {
      numRuns: RUNS,
      seed: SEED,
      interruptAfterTimeLimit: TIME_LIMIT_MS,
      ...(PATH ? { path: PATH } : {}),
    })
    if (details.interrupted && !details.failed)
      console.warn(`replication property: stopped after ${details.numRuns} of ${RUNS} runs (CAIRN_PROPERTY_TIME_LIMIT_S)`)
    if (!details.failed) return
    const replay = `CAIRN_PROPERTY_SEED=${details.seed} CAIRN_PROPERTY_PATH=${details.counterexamplePath} npx vitest run packages/core/test/replication.property.test.ts`
    throw new Error(
      [
        `the replication model does not hold (seed ${details.seed}, after ${details.numRuns} runs, shrunk ${details.numShrinks} times)`,
        `replay: ${replay}`,
        "",
        ...(lastFailure?.problems ?? [String(details.errorInstance)]),
        "",
        "steps:",
        ...(lastFailure?.trace ?? []),
        "",
        `counterexample: ${fc.stringify(details.counterexample)}`,
      ].join("\n"),
    )
  })
})

describe("known upstream issues", () => {
  // automerge-repo 2.5.6: when a peer arrives, the Repo asks (asynchronously) whether to share each loaded document with
  // it and, on yes, begins syncing it. If the document was deleted in between (a purge deletes it from the Repo), its
  // synchronizer still begins, and the Repo's "sync-state" listener reads the deleted handle from its cache: TypeError
  // "Cannot read properties of undefined (reading 'getSyncInfo')", an unhandled rejection, which ends a Node process. It
  // needs a document announced to the peer (watched here) that no connected peer has yet. The property above never
  // watches and purges in the same run because of it; when this starts to pass, drop `live` from Setup (ReplicationRun.ts).
  it.fails("a watched document purged as a peer arrives does not throw out of automerge-repo", async () => {
    const problems: string[] = []
    const spec = { wants: "*", relay: false, batchSize: 250, storageMs: 0 } as const
    const [a, b, c] = ["a", "b", "c"].map(name => new TestPeer(name, spec, definitions, problems)) as [TestPeer, TestPeer, TestPeer]
    const peers = [a, b, c]
    for (const peer of peers) await peer.open()
    const links = new Links(
      () => ({ read: "*", write: "*" }),
      0,
      () => {},
    )
    const rejections: unknown[] = []
    const onRejection = (reason: unknown) => void rejections.push(reason)
    process.on("unhandledRejection", onRejection)
    try {
      links.connect(0, 1, peers)
      const doc = await a.db.create("task", { title: "watched" })
      a.watch(doc.id)
      await a.db.delete(doc.id)
      await a.replicator.whenSynced(undefined, 5000)
      // The purge lands just after the Repo has asked whether to share the document with c, before it begins to.
      a.repo.networkSubsystem.once("peer", () => void a.db.purge(doc.id))
      links.connect(0, 2, peers)
      await sleep(300)
    } finally {
      process.off("unhandledRejection", onRejection)
      for (const [x, y] of [
        [0, 1],
        [0, 2],
      ] as const)
        links.disconnect(x, y)
      for (const peer of peers) await peer.close()
    }
    expect(rejections.map(String)).toEqual([])
  })
})
