/**
 * Where things are in a shared folder:
 *
 *   DIR/<type>/<machineId>/<seq>.changes.cairn    a machine's changes to documents of the type (FolderFile)
 *   DIR/<type>/<machineId>/<seq>.snapshot.cairn   all of them, replacing the machine's earlier files
 *   DIR/<type>/<machineId>/json/<id>.json         each document as that machine last saw it, for people
 *
 * A machine writes only under its own `<machineId>` folders, so a folder
 * tool never sees two machines write one file; a reader lists only the type
 * folders it wants. Type names and machine ids are safe folder names (see
 * isTypeName); a name that is neither is not Cairn's and is left alone.
 */
import { open, readdir, rename, rm, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { isTypeName } from "@cairn/core"

/** One of a machine's sync files, as its name says. */
export interface ListedFile {
  name: string
  seq: number
  snapshot: boolean
}

const FILE_NAME = /^(\d{12})\.(changes|snapshot)\.cairn$/
const MACHINE_ID = /^[0-9a-f]{32}$/

export class FolderLayout {
  constructor(readonly root: string) {}

  typeDir(type: string): string {
    return join(this.root, type)
  }

  machineDir(type: string, machineId: string): string {
    return join(this.root, type, machineId)
  }

  file(type: string, machineId: string, name: string): string {
    return join(this.machineDir(type, machineId), name)
  }

  jsonDir(type: string, machineId: string): string {
    return join(this.machineDir(type, machineId), "json")
  }

  jsonFile(type: string, machineId: string, id: string): string {
    return join(this.jsonDir(type, machineId), `${id}.json`)
  }

  /** The type folders present (names that are type names). */
  async types(): Promise<string[]> {
    return (await entries(this.root)).filter(name => isTypeName(name))
  }

  /** The machine folders present under a type. */
  async machines(type: string): Promise<string[]> {
    return (await entries(this.typeDir(type))).filter(name => MACHINE_ID.test(name))
  }

  /** A machine's sync files for a type, oldest first. */
  async files(type: string, machineId: string): Promise<ListedFile[]> {
    const files: ListedFile[] = []
    for (const name of await entries(this.machineDir(type, machineId))) {
      const match = FILE_NAME.exec(name)
      if (match) files.push({ name, seq: Number(match[1]), snapshot: match[2] === "snapshot" })
    }
    return files.sort((a, b) => a.seq - b.seq)
  }
}

export function fileName(seq: number, snapshot: boolean): string {
  return `${String(seq).padStart(12, "0")}.${snapshot ? "snapshot" : "changes"}.cairn`
}

/** Names in a directory; none if it does not exist (yet). */
async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return []
    throw error
  }
}

/**
 * Write a file whole or not at all: under a temporary name in the same
 * folder (a dot name, which folder tools are commonly told to ignore),
 * flushed to disk, then renamed; with `durable`, the folder's entry too.
 */
export async function writeWhole(path: string, content: Uint8Array | string, durable: boolean): Promise<void> {
  const temp = join(dirname(path), `.${Math.random().toString(36).slice(2)}.tmp`)
  try {
    if (durable) {
      const handle = await open(temp, "w")
      try {
        await handle.writeFile(content)
        await handle.sync()
      } finally {
        await handle.close()
      }
    } else {
      await writeFile(temp, content)
    }
    await rename(temp, path)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  if (durable) await syncDirectory(dirname(path))
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r")
  try {
    await handle.sync()
  } catch {
    // Some file systems (network shares among them) cannot fsync a directory; the rename is as durable as they allow.
  } finally {
    await handle.close()
  }
}
