/** What a test made that must go when it ends (peers closed, directories removed), undone in reverse order. */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach } from "vitest"

const undo: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of undo.splice(0).reverse()) await fn()
})

/** Run `fn` after the current test (after what was registered later). */
export function afterThisTest(fn: () => Promise<unknown>): void {
  undo.push(fn)
}

/** A new empty directory, removed after the test. */
export async function tempDir(prefix = "cairn-node-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  afterThisTest(() => rm(dir, { recursive: true, force: true }))
  return dir
}
