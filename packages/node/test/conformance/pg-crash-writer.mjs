// The writer a crash test kills: saves the plan's acknowledged chunks one by one, then the in-flight
// ones all at once, printing each key as its save resolves. Uses the built package (dist).
import { PgStore } from "../../dist/storage/postgres/PgStore.js"
import { PgStorage } from "../../dist/storage/postgres/PgStorage.js"

let input = ""
for await (const text of process.stdin) input += text
const plan = JSON.parse(input)
const store = await PgStore.open(process.argv[2], { maxConnections: 4 })
const storage = new PgStorage(store)
const decode = chunk => ({ key: chunk.key, data: new Uint8Array(Buffer.from(chunk.data, "base64")) })
const acknowledge = key => process.stdout.write(JSON.stringify(key) + "\n")
for (const chunk of plan.acknowledged.map(decode)) {
  await storage.save(chunk.key, chunk.data)
  acknowledge(chunk.key)
}
await Promise.all(plan.inFlight.map(decode).map(chunk => storage.save(chunk.key, chunk.data).then(() => acknowledge(chunk.key))))
