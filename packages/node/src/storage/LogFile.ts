/**
 * The one file the log lives in: a 16-byte file header ("CAIRNLOG", format
 * version, CRC-32 of both), then records (see record.ts) appended at the end.
 *
 * A log file only ever appears under its real name complete: a new one is
 * written under a temporary name, fsynced, then renamed into place and the
 * directory fsynced. That holds for the first, empty log and for
 * every compaction, so a crash leaves either the old log or the new one,
 * never a half-written one.
 */
import { readSync } from "node:fs"
import { open, rename, type FileHandle } from "node:fs/promises"
import { crc32 } from "./crc32.js"
import { StorageFormatError } from "./errors.js"

export const FILE_HEADER_BYTES = 16
const FILE_MAGIC = Buffer.from("CAIRNLOG", "latin1")
const FORMAT_VERSION = 1
/**
 * Reads up to this size are made synchronously. An asynchronous read goes
 * through libuv's thread pool and back through the event loop: measured here,
 * about 0.3 ms for a small record in the page cache, against a few
 * microseconds for readSync, and loading 1,000 small documents spent 30% of
 * its time waiting on those round trips. A small read from a cold disk blocks
 * the loop for one seek; large values keep the asynchronous path.
 */
const SYNC_READ_MAX_BYTES = 64 * 1024
/**
 * Synchronous reads give the event loop back at least this often (ms): a
 * query over 100,000 documents reads them one after another, and without a
 * turn of the loop between them no timer, socket or ping would run until it
 * was done.
 */
const SYNC_READ_SLICE_MS = 4

export class LogFile {
  /** Bytes in the file, including the header; the next record goes here. */
  size: number
  #reads = 0
  /** When a synchronous read last gave the event loop a turn (see SYNC_READ_SLICE_MS). */
  #yieldedAt = 0
  #closing: (() => void) | undefined

  private constructor(
    public path: string,
    readonly handle: FileHandle,
    size: number,
  ) {
    this.size = size
  }

  /** Start a new, empty log under a temporary name; it becomes the log at `renameTo`. */
  static async createTemporary(path: string): Promise<LogFile> {
    const handle = await open(path, "w+")
    const header = Buffer.alloc(FILE_HEADER_BYTES)
    FILE_MAGIC.copy(header, 0)
    header.writeUInt32LE(FORMAT_VERSION, 8)
    header.writeUInt32LE(crc32(header.subarray(0, 12)), 12)
    const file = new LogFile(path, handle, 0)
    await file.append([header], false)
    return file
  }

  /** Open an existing log for reading and appending. Throws StorageFormatError if it is not one we can read. */
  static async open(path: string): Promise<LogFile> {
    const handle = await open(path, "r+")
    try {
      const { size } = await handle.stat()
      const header = Buffer.alloc(FILE_HEADER_BYTES)
      const { bytesRead } = await handle.read(header, 0, FILE_HEADER_BYTES, 0)
      const intact =
        bytesRead === FILE_HEADER_BYTES &&
        header.subarray(0, 8).equals(FILE_MAGIC) &&
        crc32(header.subarray(0, 12)) === header.readUInt32LE(12)
      // Never "repair" a bad file header: the log is only ever renamed into
      // place complete, so a bad one means this is not our file (or its first
      // block is gone) and overwriting it could destroy someone's data.
      if (!intact)
        throw new StorageFormatError(`${path} is not a Cairn storage log (or its header is damaged); move it away to start an empty store`)
      const version = header.readUInt32LE(8)
      if (version !== FORMAT_VERSION)
        throw new StorageFormatError(`${path} is storage format ${version}; this version of Cairn reads format ${FORMAT_VERSION}`)
      return new LogFile(path, handle, size)
    } catch (error) {
      await handle.close()
      throw error
    }
  }

  /** Flush everything written so far to stable storage (data and metadata). */
  async sync(): Promise<void> {
    await this.handle.sync()
  }

  /**
   * Give this file its real name, atomically replacing any file there. Call
   * `sync` first, and `fsyncDirectory` after, for the rename to be durable.
   */
  async renameTo(path: string): Promise<void> {
    await rename(this.path, path)
    this.path = path
  }

  /**
   * Write `buffers` at the end of the file, in order, with one system call
   * when the kernel takes it all (it may write less, so we loop). With `sync`
   * the data is on stable storage when this resolves (fdatasync: the size
   * is flushed with it, other metadata like mtime is not needed).
   * Returns where the first buffer starts.
   */
  async append(buffers: Buffer[], sync: boolean): Promise<number> {
    const start = this.size
    let pending = buffers.filter(buffer => buffer.length > 0)
    let position = start
    while (pending.length > 0) {
      const { bytesWritten } = await this.handle.writev(pending, position)
      position += bytesWritten
      pending = dropWritten(pending, bytesWritten)
    }
    this.size = position
    if (sync) await this.handle.datasync()
    return start
  }

  /** Read `length` bytes at `position` into a new buffer; shorter if the file ends first. */
  async read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.alloc(length)
    const bytesRead = await this.readInto(buffer, 0, length, position)
    return bytesRead === length ? buffer : buffer.subarray(0, bytesRead)
  }

  /** Read into `target` at `offset`, looping over short reads; returns the bytes read (less only at end of file). */
  async readInto(target: Buffer, offset: number, length: number, position: number): Promise<number> {
    this.#reads++
    try {
      if (length <= SYNC_READ_MAX_BYTES && performance.now() - this.#yieldedAt > SYNC_READ_SLICE_MS) {
        await new Promise(resolve => setImmediate(resolve))
        this.#yieldedAt = performance.now()
      }
      let total = 0
      while (total < length) {
        const bytesRead =
          length <= SYNC_READ_MAX_BYTES
            ? readSync(this.handle.fd, target, offset + total, length - total, position + total)
            : (await this.handle.read(target, offset + total, length - total, position + total)).bytesRead
        if (bytesRead === 0) break
        total += bytesRead
      }
      return total
    } finally {
      if (--this.#reads === 0) this.#closing?.()
    }
  }

  /** Cut the file back to `size` bytes (to drop a torn tail) and make that durable. */
  async truncate(size: number): Promise<void> {
    await this.handle.truncate(size)
    await this.handle.datasync()
    this.size = size
  }

  /** Close once reads already started have finished (they may still use an old file after a compaction swapped it out). */
  async closeWhenIdle(): Promise<void> {
    if (this.#reads > 0) await new Promise<void>(resolve => (this.#closing = resolve))
    await this.handle.close()
  }
}

/**
 * fsync a directory so a file created or renamed in it survives a crash.
 * Windows cannot open a directory for sync; NTFS journals renames itself.
 */
export async function fsyncDirectory(path: string): Promise<void> {
  if (process.platform === "win32") return
  const handle = await open(path, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function dropWritten(buffers: Buffer[], written: number): Buffer[] {
  const rest: Buffer[] = []
  for (const buffer of buffers) {
    if (written >= buffer.length) {
      written -= buffer.length
    } else {
      rest.push(written > 0 ? buffer.subarray(written) : buffer)
      written = 0
    }
  }
  return rest
}
