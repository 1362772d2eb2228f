/**
 * The files of an export (`cairn export DIR`): its manifest, and reading a
 * file of one safely, since an export may come from someone else.
 */
import { lstat, readFile } from "node:fs/promises"
import { relative, resolve, sep } from "node:path"
import { decodeUtf8, MAX_INPUT_BYTES } from "./input.js"

/** The format of an export's manifest.json. */
export const EXPORT_MANIFEST = "cairn.export/2"

/** One document in an export's manifest: its JSON and (since cairn.export/2) its history. */
export interface ManifestEntry {
  id: string
  type: string
  file: string
  history: string
}

/**
 * Read a file of an export: inside it (by path, and not through a symbolic
 * link), not larger than an import takes, and text only if it is valid
 * UTF-8. Errors name the file and what is wrong, never its content.
 */
export async function readExportFile(root: string, file: string): Promise<Uint8Array>
export async function readExportFile(root: string, file: string, encoding: "utf8"): Promise<string>
export async function readExportFile(root: string, file: string, encoding?: "utf8"): Promise<Uint8Array | string> {
  const path = inside(root, file)
  let stats: Awaited<ReturnType<typeof lstat>>
  try {
    stats = await lstat(path)
  } catch {
    throw new Error(`cannot read ${file}: it does not exist`)
  }
  if (stats.isSymbolicLink()) throw new Error(`refusing ${file}: it is a symbolic link`)
  if (!stats.isFile()) throw new Error(`refusing ${file}: it is not a file`)
  if (stats.size > MAX_INPUT_BYTES)
    throw new Error(`refusing ${file}: ${stats.size} bytes is more than an import takes (${MAX_INPUT_BYTES})`)
  const bytes = await readFile(path)
  return encoding ? decodeUtf8(bytes, file) : bytes
}

/** A path inside `root`; refuses one that escapes it (`..`, absolute paths). */
export function inside(root: string, file: string): string {
  const full = resolve(root, file)
  const rel = relative(root, full)
  if (rel === "" || rel.startsWith("..") || rel.split(sep)[0] === ".." || resolve(full) !== full || /^[\\/]/.test(file)) {
    throw new Error(`refusing ${JSON.stringify(file)}: it is outside ${root}`)
  }
  return full
}
