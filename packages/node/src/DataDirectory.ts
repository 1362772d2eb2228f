/**
 * A peer's data directory:
 *
 *   <dir>/machine.json   this machine's identity (id, ed25519 key pair), mode 0600
 *   <dir>/types.json     type definitions this peer knows, as JSON (schemas are data)
 *   <dir>/lock           the pid of the process that has the directory open
 *   <dir>/store.json     the PostgreSQL store a relay's directory serves, if any, mode 0600 (its URL may hold a password)
 *   <dir>/store/         documents, catalog and checkpoints (the storage adapter)
 *
 * One process at a time: a second one gets DirectoryLockedError instead of
 * writing behind the first one's back.
 */
import { readFileSync } from "node:fs"
import { link, mkdir, open, readFile, rename, unlink, writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import { CairnError, Machine, typeFromJSON, type MachineIdentityJSON, type TypeDefinition, type TypeDefinitionJSON } from "@cairn/core"

/** Another live process has this data directory open. */
export class DirectoryLockedError extends CairnError {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`data directory ${dir} is in use by process ${pid}; stop it, or talk to it through its server`)
  }
}

/** The data directory cannot be used (permissions, not a directory, damaged identity). */
export class DataDirectoryError extends CairnError {}

export class DataDirectory {
  #locked = false

  private constructor(readonly path: string) {}

  /** Open (creating if needed) a data directory. Does not lock it; see `lock`. */
  static async open(path: string): Promise<DataDirectory> {
    const dir = resolve(path)
    try {
      await mkdir(join(dir, "store"), { recursive: true, mode: 0o700 })
    } catch (error) {
      throw new DataDirectoryError(`cannot create data directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)
    }
    return new DataDirectory(dir)
  }

  get storePath(): string {
    return join(this.path, "store")
  }

  /** Take the directory for this process. Throws DirectoryLockedError if a live process holds it; a stale lock (dead pid) is taken over. */
  async lock(): Promise<void> {
    const path = join(this.path, "lock")
    if (lockedHere.has(this.path)) throw new DirectoryLockedError(this.path, process.pid)
    for (let attempt = 0; attempt < 3; attempt++) {
      // The lock appears with its pid already in it (a hard link of a written file is atomic), so another
      // process never reads an empty lock and takes it for a stale one.
      const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`
      try {
        await writeFile(temp, String(process.pid), { mode: 0o600 })
        await link(temp, path)
        this.#locked = true
        lockedHere.add(this.path)
        return
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new DataDirectoryError(`cannot lock data directory ${this.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)
        }
      } finally {
        await unlink(temp).catch(() => {})
      }
      const pid = Number((await readFile(path, "utf8").catch(() => "")).trim())
      if (pid && pid !== process.pid && isAlive(pid)) throw new DirectoryLockedError(this.path, pid)
      await unlink(path).catch(() => {})
    }
    throw new DataDirectoryError(`cannot lock data directory ${this.path}`)
  }

  /** The pid holding the lock, if a live process does. */
  lockHolder(): Promise<number | undefined> {
    return DataDirectory.lockHolderOf(this.path)
  }

  /** The pid holding the lock of the data directory at `path`, if a live process does (nothing is created). */
  static async lockHolderOf(path: string): Promise<number | undefined> {
    const pid = Number((await readFile(join(path, "lock"), "utf8").catch(() => "")).trim())
    return pid && isAlive(pid) ? pid : undefined
  }

  async unlock(): Promise<void> {
    if (!this.#locked) return
    this.#locked = false
    lockedHere.delete(this.path)
    await unlink(join(this.path, "lock")).catch(() => {})
  }

  /** This machine's identity: loaded, or created on first use. `name` renames it. */
  async machine(name?: string): Promise<Machine> {
    const path = join(this.path, "machine.json")
    let text: string | undefined
    try {
      text = await readFile(path, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        throw new DataDirectoryError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`)
    }
    if (text === undefined) {
      const machine = await Machine.generate({ extractable: true, ...(name ? { name } : {}) })
      await writeAtomic(path, JSON.stringify(await machine.toJSON(), null, 2) + "\n", 0o600)
      return machine
    }
    let json: MachineIdentityJSON
    try {
      json = JSON.parse(text)
    } catch {
      throw new DataDirectoryError(`${path} is damaged (not JSON); restore it from a backup, or move it away to become a new machine`)
    }
    let machine: Machine
    try {
      machine = await Machine.fromJSON(json)
    } catch (error) {
      throw new DataDirectoryError(`${path} is damaged: ${(error as Error).message}`)
    }
    if (name !== undefined && name !== machine.name) {
      machine = machine.withName(name)
      await writeAtomic(path, JSON.stringify(await machine.toJSON(), null, 2) + "\n", 0o600)
    }
    return machine
  }

  /** Type definitions stored in the directory. */
  async types(): Promise<TypeDefinition[]> {
    const path = join(this.path, "types.json")
    return readJSONFile(path, [], (list: TypeDefinitionJSON[]) => list.map(json => typeFromJSON(json)), DataDirectoryError)
  }

  /** Store type definitions (replacing those of the same name). */
  async saveTypes(definitions: TypeDefinition<any>[]): Promise<void> {
    const existing = new Map((await this.types()).map(d => [d.name, d.toJSON()]))
    for (const definition of definitions) existing.set(definition.name, definition.toJSON())
    const path = join(this.path, "types.json")
    const content = JSON.stringify([...existing.values()], null, 2) + "\n"
    // Every open saves the app's types: unchanged ones cost no write and no fsync, which a reconnect would wait for.
    if (content === (await readFile(path, "utf8").catch(() => undefined))) return
    await writeAtomic(path, content)
  }

  /**
   * The PostgreSQL store this directory serves, recorded when a process opened it with one (so a command on the
   * directory acts on the store, not on a directory the relay ignores); undefined for a directory that keeps its
   * own documents.
   */
  async store(): Promise<string | undefined> {
    return readJSONFile(
      join(this.path, "store.json"),
      undefined,
      (json: { url?: unknown }) => {
        if (typeof json?.url !== "string" || json.url === "") throw new Error("it names no store URL")
        return json.url
      },
      DataDirectoryError,
    )
  }

  /** Record the store this directory serves (mode 0600: the URL may hold a password). */
  async saveStore(url: string): Promise<void> {
    if ((await this.store().catch(() => undefined)) === url) return
    await writeAtomic(join(this.path, "store.json"), JSON.stringify({ url }, null, 2) + "\n", 0o600)
  }
}

/** Directories this process holds, so a second open in the same process is refused too. */
const lockedHere = new Set<string>()

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
  // A process killed (SIGKILL, the OOM killer) answers kill(0) until its parent reaps it, which a shell or
  // container init may never do: on Linux, a zombie holds nothing.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat[stat.lastIndexOf(")") + 2] !== "Z"
  } catch {
    return true
  }
}

/**
 * A JSON file read with `read`, or `missing` when the file cannot be read; content that does not parse, or
 * that `read` rejects, is an `Error` of the class given, naming the file.
 */
export async function readJSONFile<J, T>(
  path: string,
  missing: T,
  read: (json: J) => T,
  Damaged: new (message: string) => Error,
): Promise<T> {
  let text: string
  try {
    text = await readFile(path, "utf8")
  } catch {
    return missing
  }
  try {
    return read(JSON.parse(text) as J)
  } catch (error) {
    throw new Damaged(`${path} is damaged: ${(error as Error).message}`)
  }
}

/** Write a file so a crash leaves either the old or the new content, never half of one. */
export async function writeAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`
  const handle = await open(temp, "w", mode)
  try {
    await handle.writeFile(content)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temp, path)
}
