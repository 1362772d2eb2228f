// Directories of documents made once per run and copied for every use, so
// no measurement sees what an earlier one wrote.
import { cp, mkdir, mkdtemp, rm, readdir, lstat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

export class Scratch {
  #count = 0
  #made = new Map()

  constructor(root) {
    this.root = root
  }

  static async create() {
    return new Scratch(await mkdtemp(join(tmpdir(), "cairn-bench-")))
  }

  /** A new empty directory. */
  async dir(name) {
    const path = join(this.root, `${String(this.#count++).padStart(3, "0")}-${name}`)
    await mkdir(path, { recursive: true })
    return path
  }

  /** A copy of `source` in a new directory (the lock file of a closed Cairn peer is not copied). */
  async copy(source, name) {
    const path = join(this.root, `${String(this.#count++).padStart(3, "0")}-${name}`)
    await cp(source, path, { recursive: true, filter: src => !src.endsWith("/lock") })
    return path
  }

  /** A directory made once by `make(dir)` and remembered under `key`. */
  async once(key, make) {
    if (!this.#made.has(key)) {
      this.#made.set(
        key,
        (async () => {
          const dir = await this.dir(key.replace(/[^a-z0-9]+/gi, "-"))
          await make(dir)
          return dir
        })(),
      )
    }
    return this.#made.get(key)
  }

  async remove() {
    await rm(this.root, { recursive: true, force: true })
  }
}

/** Bytes a directory takes on disk (allocated blocks, as du counts) and its files' total size. */
export async function diskUsage(path) {
  let allocated = 0
  let apparent = 0
  let files = 0
  const walk = async dir => {
    const stat = await lstat(dir)
    allocated += stat.blocks * 512
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name)
      if (entry.isDirectory()) await walk(full)
      else {
        const s = await lstat(full)
        allocated += s.blocks * 512
        apparent += s.size
        files++
      }
    }
  }
  await walk(path)
  return { allocated, apparent, files }
}
