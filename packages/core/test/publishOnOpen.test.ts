/**
 * A peer that opens with its definitions publishes them as schema documents:
 * once (a restart reads no document and makes none), not when another
 * machine's identical one is here already, never beside a different
 * definition of the same version (a warning, the open goes on), and again
 * when the document it published is gone. A relay with no app code learns
 * them from sync alone, from a peer that may write the type and no other.
 */
import { afterEach, describe, expect, it } from "vitest"
import { isValidDocumentId } from "@automerge/automerge-repo"
import { Admission, defineType, f, Logger, Machine, Peer, type TypeDefinition } from "../src/index.js"
import { schemaTypeOf } from "../src/schema/schemaDocuments.js"
import { MemoryStorage, sendDocs, waitFor } from "./helpers.js"
import { serve, trusting } from "./memoryPeers.js"

const V2 = defineType("task", {
  version: 2,
  fields: { name: f.string(), priority: f.number().default(0) },
  lenses: [{ from: 1, to: 2, ops: [{ op: "rename", from: ["title"], to: ["name"] }] }],
})
const Note = defineType("note", { version: 1, fields: { body: f.text() } })

const open: Peer[] = []
afterEach(async () => {
  for (const peer of open.splice(0)) await peer.close()
})

async function openPeer(types: TypeDefinition<any>[], storage = new MemoryStorage(), machine?: Machine, warnings: string[] = []) {
  machine ??= await Machine.generate()
  const peer = await Peer.open({
    machine,
    types,
    wants: "*",
    storage,
    logger: Logger.warningsTo(message => warnings.push(message)),
  })
  open.push(peer)
  return { peer, storage, machine, warnings }
}

async function reopen(opened: Awaited<ReturnType<typeof openPeer>>, types: TypeDefinition<any>[]) {
  await opened.peer.close()
  open.splice(open.indexOf(opened.peer), 1)
  opened.storage.reads.length = 0
  return openPeer(types, opened.storage, opened.machine, opened.warnings)
}

const schemaIds = (peer: Peer, type: string) => [...peer.db.catalog.idsOfType(schemaTypeOf(type))]
/** Reads of a document's chunks (their keys start with its id), as opposed to the catalog's and the ledger's. */
const documentReads = (storage: MemoryStorage) => storage.reads.filter(key => key[0] !== undefined && isValidDocumentId(key[0]))

describe("definitions published when a peer opens", () => {
  it("publishes each definition once: a restart makes no document and reads none", async () => {
    const first = await openPeer([V2, Note])
    expect(first.peer.published.published).toHaveLength(2)
    const [published] = await first.peer.db.publishedDefinitions("task")
    expect(published!.definition!.toJSON()).toEqual(V2.toJSON())

    const again = await reopen(first, [V2, Note])
    expect(again.peer.published).toEqual({ published: [], conflicts: [] })
    expect(schemaIds(again.peer, "task")).toHaveLength(1)
    expect(documentReads(again.storage)).toEqual([])
    expect(await again.peer.db.publishDefinitions()).toEqual([])
  })

  it("publishes a changed definition's new version, and again when the document it published is gone", async () => {
    const first = await openPeer([Note])
    const [noteDoc] = schemaIds(first.peer, "note")
    await first.peer.db.delete(noteDoc!)
    const Note2 = defineType("note", { version: 2, fields: { body: f.text(), pinned: f.boolean().default(false) } })
    const again = await reopen(first, [Note2])
    expect(again.peer.published.published).toHaveLength(1)
    const later = await reopen(again, [Note])
    // Version 1's document was deleted: it is published anew, and version 2's stays.
    expect(later.peer.published.published).toHaveLength(1)
    expect((await later.peer.db.publishedDefinitions("note")).map(entry => entry.version)).toEqual([1, 2])
  })

  it("counts another machine's identical definition as published, and never publishes beside a different one", async () => {
    const desk = await openPeer([V2])
    const laptop = await openPeer([])
    await sendDocs(desk.peer.db, laptop.peer.db, schemaIds(desk.peer, "task"))
    const upgraded = await reopen(laptop, [V2])
    expect(upgraded.peer.published.published).toEqual([])
    expect(schemaIds(upgraded.peer, "task")).toHaveLength(1)

    const other = await openPeer([])
    await sendDocs(desk.peer.db, other.peer.db, schemaIds(desk.peer, "task"))
    const clashing = defineType("task", { version: 2, fields: { name: f.text() } })
    const opened = await reopen(other, [clashing])
    expect(opened.peer.published.published).toEqual([])
    expect(opened.warnings.join("\n")).toMatch(/another definition of task version 2 is published.*not published/)
    expect(schemaIds(opened.peer, "task")).toHaveLength(1)
    // It opened all the same, and works with its own definition.
    expect((await opened.peer.db.create(clashing, { name: "still works" })).data).toMatchObject({ name: "still works" })
  })

  it("reaches a relay with no app code by sync alone, from a peer that may write the type and not one that may only read it", async () => {
    const relay = await openPeer([])
    const [writer, reader] = [await openPeer([V2]), await openPeer([Note])]
    const { dial } = serve(relay.peer, {
      admission: new Admission({
        machine: relay.machine,
        auth: { mode: "trust" },
        trust: trusting({ machine: writer.machine, read: "*", write: "*" }, { machine: reader.machine, read: "*", write: ["task"] }),
      }),
    })
    for (const app of [writer, reader])
      dial(app.peer, {
        admission: new Admission({
          machine: app.machine,
          auth: { mode: "trust" },
          trust: trusting({ machine: relay.machine, read: "*", write: "*" }),
        }),
      })
    await waitFor(async () => (await relay.peer.db.publishedDefinitions("task"))[0]?.definition !== undefined)
    expect((await relay.peer.db.publishedDefinitions("task"))[0]!.definition!.toJSON()).toEqual(V2.toJSON())
    await reader.peer.replicator.whenSynced(undefined, 5_000)
    expect(schemaIds(relay.peer, "note")).toEqual([])
  })
})
