/**
 * Definitions exchanged at connect: a peer whose definition of a synced type
 * cannot live beside ours is reported (status, event, warning), only for
 * types the other may know of, and syncing goes on; a peer sending garbage
 * as definitions is a protocol error, nothing more.
 */
import { afterEach, describe, expect, it } from "vitest"
import {
  Admission,
  compareDefinitions,
  defineType,
  f,
  Logger,
  Machine,
  Peer,
  type SchemaMismatch,
  type TypeDefinition,
} from "../src/index.js"
import { serve, trusting } from "./memoryPeers.js"
import { waitFor } from "./helpers.js"

const TaskV1 = defineType("task", { version: 1, fields: { title: f.string(), done: f.boolean().default(false) } })
// Version 2 renames title to name and makes done a counter: a lens would be needed, and a kind change breaks.
const TaskV2 = defineType("task", { version: 2, fields: { name: f.string(), done: f.counter() } })
const TaskV2Compatible = defineType("task", {
  version: 2,
  fields: { title: f.string(), done: f.boolean().default(false), due: f.string().optional() },
})
// Version 2 with a lens back to version 1: a peer at version 1 may learn it, from a peer that may write tasks.
const TaskV2Lensed = defineType("task", {
  version: 2,
  fields: { name: f.string(), done: f.boolean().default(false) },
  lenses: [{ from: 1, to: 2, ops: [{ op: "rename", from: ["title"], to: ["name"] }] }],
})
const SecretV1 = defineType("secret", { version: 1, fields: { code: f.string() } })
const SecretV2 = defineType("secret", { version: 2, fields: { pin: f.number() } })

const open: { close(): unknown }[] = []
afterEach(async () => {
  for (const item of open.splice(0)) await item.close()
})

async function peer(types: TypeDefinition<any>[], warnings: string[] = []) {
  const machine = await Machine.generate()
  const opened = await Peer.open({
    machine,
    types,
    wants: "*",
    logger: Logger.warningsTo(message => warnings.push(message)),
  })
  open.push(opened)
  return { peer: opened, machine, warnings }
}

/** `client` dials `server`; the server lets it read `read` and write `write` (the same types, unless given). */
function connect(
  server: Awaited<ReturnType<typeof peer>>,
  client: Awaited<ReturnType<typeof peer>>,
  read: string[] | "*",
  write: string[] | "*" = read,
) {
  const { dial } = serve(server.peer, {
    admission: new Admission({
      machine: server.machine,
      auth: { mode: "trust" },
      trust: trusting({ machine: client.machine, read, write }),
    }),
  })
  dial(client.peer, {
    admission: new Admission({
      machine: client.machine,
      auth: { mode: "trust" },
      trust: trusting({ machine: server.machine, read: "*", write: "*" }),
    }),
  })
}

const schemasOf = (p: Peer) => p.replicator.status()[0]?.schemas ?? []

describe("definitions at connect", () => {
  it("each side reports a type the other defines in a way it cannot live beside, with the fields, and syncing goes on", async () => {
    const laptop = await peer([TaskV1])
    const phone = await peer([TaskV2])
    const events: SchemaMismatch[][] = []
    laptop.peer.replicator.on("incompatible", ({ mismatches }) => events.push(mismatches))
    const made = await phone.peer.db.create(TaskV2, { name: "from v2", done: 0 })
    connect(laptop, phone, "*")
    await waitFor(() => schemasOf(laptop.peer).length > 0 && schemasOf(phone.peer).length > 0, 5_000)
    const [atLaptop] = schemasOf(laptop.peer)
    expect(atLaptop).toMatchObject({ type: "task", localVersion: 1, remoteVersion: 2, verdict: "needs a lens" })
    expect(atLaptop!.fields.map(field => `${field.path} ${field.change}`).sort()).toEqual([
      "done kind changed",
      "name added",
      "title removed",
    ])
    expect(schemasOf(phone.peer)[0]).toMatchObject({ type: "task", localVersion: 2, remoteVersion: 1, verdict: "needs a lens" })
    expect(events).toHaveLength(1)
    expect(laptop.warnings.join("\n")).toMatch(/defines task as version 2, this peer as version 1: needs a lens \(/)
    // Reported, not refused: the document still arrives, and is quarantined here for what it breaks.
    await waitFor(() => laptop.peer.db.catalog.get(made.id), 5_000)
    expect(laptop.peer.db.quarantined().map(q => q.id)).toEqual([made.id])
  })

  it("says nothing of a compatible change, and nothing of a type the peer may not know of", async () => {
    const server = await peer([TaskV1, SecretV1])
    const client = await peer([TaskV2Compatible, SecretV2])
    connect(server, client, ["task"])
    await waitFor(
      () => server.peer.replicator.status()[0]?.state === "in-sync" && client.peer.replicator.status()[0]?.state === "in-sync",
      5_000,
    )
    // Each side sent its definitions before its first pull: in sync both ways, both have read the other's.
    expect(schemasOf(server.peer)).toEqual([])
    // The secret's definitions differ, but the client may not know of secrets: neither side says a word of them.
    expect(schemasOf(client.peer)).toEqual([])
  })

  it("learns a newer version's lens only from a peer that may write the type, not from one that may only read it", async () => {
    const server = await peer([TaskV1])
    const inSync = (client: Awaited<ReturnType<typeof peer>>) =>
      waitFor(
        () => client.peer.replicator.status()[0]?.state === "in-sync" && server.peer.replicator.status().every(s => s.state === "in-sync"),
        5_000,
      )
    const reader = await peer([TaskV2Lensed])
    connect(server, reader, ["task"], [])
    await inSync(reader)
    expect(server.peer.db.definition("task")?.newer).toEqual([])
    const writer = await peer([TaskV2Lensed])
    connect(server, writer, ["task"])
    await inSync(writer)
    await waitFor(() => server.peer.db.definition("task")?.newer.length === 1, 5_000)
    expect(server.peer.db.definition("task")?.newer[0]?.toJSON()).toEqual(TaskV2Lensed.toJSON())
  })

  it("takes a garbled or oversized list of definitions as a protocol error, and one bad definition does not hide the rest", () => {
    const local = (type: string) => (type === "task" ? TaskV1 : undefined)
    const { mismatches, problems } = compareDefinitions(local, [
      { name: "task", version: 2, fields: { title: { kind: "nonsense" } } },
      { name: "task", version: 3, fields: { title: f.number().toJSON() } },
      { name: "other", version: 1, fields: {} },
    ])
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/definitions: /)
    expect(mismatches.map(m => [m.type, m.remoteVersion, m.verdict])).toEqual([["task", 3, "needs a lens"]])
    expect(compareDefinitions(local, Array(300).fill({ name: "x", version: 1, fields: {} })).problems).toContain(
      "definitions: more than 256",
    )
  })
})
