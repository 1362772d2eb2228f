// A short tour of Cairn's typed API. Run it from the repository root:
//   npm install && npm run build && node examples/tour.mjs
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defineType, f } from "@cairn/core"
import { NodePeer } from "@cairn/node"

// 1. Define a type once: the app's TypeScript type and run-time validation both come from it.
const Task = defineType("task", {
  version: 1,
  fields: {
    title: f.string(), //              a register: last writer wins
    done: f.boolean().default(false),
    priority: f.string({ values: ["low", "high"] }).optional(),
    notes: f.text().default(""), //     collaborative text: edits merge by character
    votes: f.counter(), //              concurrent increments add up
    tags: f.list(f.string()),
    links: f.record(f.string()), //     a map with any keys
  },
})

// 2. Two peers, each with its own data directory (in real life: two devices).
const laptop = await NodePeer.open({ dir: await mkdtemp(join(tmpdir(), "laptop-")), types: [Task], name: "laptop" })
const phone = await NodePeer.open({ dir: await mkdtemp(join(tmpdir(), "phone-")), types: [Task], name: "phone", wants: ["task"] })

// 3. Create, change and read. A write's promise resolves once it is on disk.
const task = await laptop.db.create(Task, { title: "Buy milk", tags: ["shopping"] })
await laptop.db.change(Task, task.id, draft => {
  draft.notes.splice(0, 0, "Oat, two litres")
  draft.votes.increment()
  draft.tags.push("today")
  draft.links.shop = "https://example.org"
})

// 4. Invalid data is refused as a whole, with an error that says what was wrong.
try {
  await laptop.db.create(Task, { title: 42 })
} catch (error) {
  console.log(`${error.name}: ${error.message}`)
}

// 5. Sync over WebSocket (127.0.0.1). The phone only ever receives tasks.
const { url } = await laptop.listen({ port: 0 })
phone.connect(url)
await phone.whenSynced()
await phone.db.change(Task, task.id, draft => {
  draft.done = true
  draft.votes.increment()
})
await phone.whenSynced() // resolves once the laptop has pulled the phone's change

const [onLaptop] = await laptop.db.query(Task, { where: { done: true }, orderBy: "title", limit: 10 })
console.log(onLaptop.data)
console.log((await laptop.db.history(task.id)).map(change => `${change.machineId.slice(0, 8)} at ${new Date(change.time).toISOString()}`))

await phone.close()
await laptop.close()
