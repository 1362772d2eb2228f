/**
 * What a peer remembers of one shared folder, kept in its data directory
 * (`<data>/folders/<hash of the folder's path>.json`): per type, the files it
 * wrote and the heads of each document the folder already has, so its next
 * file carries only what is new; per other machine and type, the number of
 * the last of its files applied here, so each file is applied once.
 *
 * Losing it loses nothing: the next export finds its own files' numbers in
 * the folder and writes everything again, and applying a file twice changes
 * nothing.
 */
import { createHash } from "node:crypto"
import { mkdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { writeAtomic } from "../DataDirectory.js"

/** One of this machine's own sync files in the folder. */
export interface OwnFile {
  name: string
  seq: number
  bytes: number
  snapshot: boolean
}

export const PURGED = "purged"

/** This machine's side of one type in the folder. */
export interface TypeState {
  /** The number of the last file written (0: none). */
  seq: number
  files: OwnFile[]
  /** For each document, the heads the folder holds (written here, or read from another machine's file), or PURGED. */
  inFolder: Record<string, string[] | typeof PURGED>
  /** For each document, the heads (joined) its JSON form was written at. */
  json: Record<string, string>
}

interface StateJSON {
  format: 1
  folder: string
  types: Record<string, TypeState>
  applied: Record<string, number>
}

export class FolderState {
  private constructor(
    private readonly path: string,
    private readonly json: StateJSON,
  ) {}

  static async load(dataDir: string, folder: string): Promise<FolderState> {
    const dir = join(dataDir, "folders")
    await mkdir(dir, { recursive: true })
    const path = join(dir, `${createHash("sha256").update(folder).digest("hex").slice(0, 16)}.json`)
    let json: StateJSON = { format: 1, folder, types: {}, applied: {} }
    try {
      const parsed = JSON.parse(await readFile(path, "utf8")) as StateJSON
      if (parsed.format === 1 && parsed.folder === folder && parsed.types && parsed.applied) json = parsed
    } catch {
      // Missing or unreadable: start over (see the file's comment).
    }
    return new FolderState(path, json)
  }

  type(type: string): TypeState {
    return (this.json.types[type] ??= { seq: 0, files: [], inFolder: {}, json: {} })
  }

  /** The number of the last file of `machineId` for `type` applied here (0: none). */
  applied(type: string, machineId: string): number {
    return this.json.applied[`${type}/${machineId}`] ?? 0
  }

  setApplied(type: string, machineId: string, seq: number): void {
    this.json.applied[`${type}/${machineId}`] = seq
  }

  async save(): Promise<void> {
    await writeAtomic(this.path, JSON.stringify(this.json))
  }
}
