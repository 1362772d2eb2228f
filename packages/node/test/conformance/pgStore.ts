/**
 * PgStorage as a subject of the storage conformance suite. A crash is a
 * writer process killed with SIGKILL while its saves are in flight, as for
 * the log; damage to rows on disk is PostgreSQL's to detect (see
 * PgStorage.checksummed), so that part is not Cairn's to test.
 */
import { spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { StorageKey } from "@automerge/automerge-repo"
import type { CrashPlan, StorageUnderTest, StoreUnderTest } from "../../../core/test/conformance/storage.js"
import { PgStore } from "../../src/storage/postgres/PgStore.js"
import { PgStorage } from "../../src/storage/postgres/PgStorage.js"
import { freshSchema } from "../helpers/postgres.js"

const WRITER = join(dirname(fileURLToPath(import.meta.url)), "pg-crash-writer.mjs")

export function pgStore(): StorageUnderTest {
  return {
    cannot: { damage: "PostgreSQL detects damage to its own pages (a read fails rather than returning garbage); Cairn adds no checksum" },
    async open(): Promise<StoreUnderTest> {
      const { url, drop } = freshSchema()
      const openStorage = async () => new PgStorage(await PgStore.open(url, { maxConnections: 4 }))
      let current = await openStorage()
      const reopen = async () => {
        await current.close()
        current = await openStorage()
        return current
      }
      return {
        adapter: current,
        reopen,
        async crash(plan) {
          const acknowledged = await killWhileWriting(url, plan)
          return { adapter: await reopen(), acknowledged }
        },
        async dispose() {
          await current.close()
          await drop()
        },
      }
    },
  }
}

/** Run the plan in a child process over the built PgStorage and SIGKILL it once a few in-flight saves were acknowledged. */
function killWhileWriting(url: string, plan: CrashPlan): Promise<StorageKey[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, url], { stdio: ["pipe", "pipe", "inherit"] })
    const acknowledged: StorageKey[] = []
    let buffered = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (text: string) => {
      buffered += text
      for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        if (!line) continue
        acknowledged.push(JSON.parse(line) as StorageKey)
        if (acknowledged.length === plan.acknowledged.length + 3) child.kill("SIGKILL")
      }
    })
    child.on("error", reject)
    child.on("exit", () => resolve(acknowledged))
    const encode = (chunks: CrashPlan["acknowledged"]) => chunks.map(c => ({ key: c.key, data: Buffer.from(c.data!).toString("base64") }))
    child.stdin.end(JSON.stringify({ acknowledged: encode(plan.acknowledged), inFlight: encode(plan.inFlight) }))
  })
}
