/**
 * The built storage modules (dist/), for tests that run them in a child
 * process: Node 20 cannot run TypeScript, and the root `npm test` builds
 * first. A dist older than the sources fails the test rather than silently
 * testing old code.
 */
import { readdir, stat } from "node:fs/promises"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const sources = join(dirname(fileURLToPath(import.meta.url)), "../../src/storage")
const built = join(sources, "../../dist/storage")

/** The path of `dist/storage/<name>.js`, after checking that no storage source is newer than its build. */
export async function builtStorageModule(name: string): Promise<string> {
  for (const file of await readdir(sources)) {
    if (!file.endsWith(".ts") || file.includes(".test.") || file.endsWith(".d.ts")) continue
    const output = join(built, file.replace(/\.ts$/, ".js"))
    const builtTime = await stat(output).then(
      s => s.mtimeMs,
      () => 0,
    )
    if (builtTime < (await stat(join(sources, file))).mtimeMs) {
      throw new Error(`${output} is missing or older than its source; build first: cd packages/node && npx tsc -b`)
    }
  }
  return join(built, `${name}.js`)
}
