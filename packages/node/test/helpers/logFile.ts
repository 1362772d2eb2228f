/** Reaching into a log storage's file in tests: where a record is, and damaging one byte of it. */
import { open, readFile } from "node:fs/promises"
import { join } from "node:path"
import { expect } from "vitest"

/** The log file of the log storage in `dir`. */
export const logPath = (dir: string) => join(dir, "storage.log")

/** Where `needle` is in the log file, at or after `from` (to damage a chosen record). */
export async function offsetOf(dir: string, needle: string, from = 0): Promise<number> {
  const offset = (await readFile(logPath(dir))).indexOf(needle, from)
  expect(offset).toBeGreaterThan(0)
  return offset
}

/** Invert the byte at `offset` of the log file. */
export async function flipByte(dir: string, offset: number): Promise<void> {
  const handle = await open(logPath(dir), "r+")
  const byte = Buffer.alloc(1)
  await handle.read(byte, 0, 1, offset)
  byte[0] = byte[0]! ^ 0xff
  await handle.write(byte, 0, 1, offset)
  await handle.close()
}
