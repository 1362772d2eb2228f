/**
 * Reads a log file front to back through a large window, so scanning it on
 * open (and copying it during compaction) costs one read per few MiB instead
 * of one per record.
 */
import type { LogFile } from "./LogFile.js"

const WINDOW_BYTES = 4 * 1024 * 1024

export class ForwardReader {
  #window = Buffer.alloc(0)
  /** File position of #window[0]. */
  #start = 0
  /** Bytes of #window that hold file data. */
  #filled = 0

  constructor(
    private readonly file: LogFile,
    private readonly end: number,
  ) {}

  /**
   * The buffer holding file bytes [position, position + length), and where in
   * it they start; undefined if the file ends first. Valid until the next call.
   */
  async bytes(position: number, length: number): Promise<{ buffer: Buffer; at: number } | undefined> {
    if (position + length > this.end) return undefined
    if (position < this.#start || position + length > this.#start + this.#filled) {
      await this.#fill(position, length)
      if (this.#filled < length) return undefined
    }
    return { buffer: this.#window.subarray(0, this.#filled), at: position - this.#start }
  }

  /** Position of the next occurrence of `needle` at or after `position`, or -1 before the end. */
  async indexOf(needle: Buffer, position: number): Promise<number> {
    while (position + needle.length <= this.end) {
      const view = await this.bytes(position, Math.min(this.end - position, WINDOW_BYTES))
      if (!view) return -1
      const found = view.buffer.indexOf(needle, view.at)
      if (found >= 0) return this.#start + found
      // Step back so a needle straddling the window's end is found next time.
      position = this.#start + this.#filled - needle.length + 1
    }
    return -1
  }

  async #fill(position: number, length: number): Promise<void> {
    const size = Math.max(length, Math.min(WINDOW_BYTES, this.end - position))
    if (this.#window.length < size) this.#window = Buffer.allocUnsafe(size)
    this.#start = position
    this.#filled = await this.file.readInto(this.#window, 0, size, position)
  }
}
