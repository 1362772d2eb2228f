/**
 * Failures of the log storage adapter a caller can act on. Damaged records
 * are not errors: they are skipped and listed in `LogStorageAdapter.damaged`.
 */
import { CairnError } from "@cairn/core"

/** A key is not an array of strings, or is too long to store. */
export class InvalidStorageKeyError extends CairnError {}

/** The adapter was closed; open a new one on the directory. */
export class StorageClosedError extends CairnError {
  constructor(readonly directory: string) {
    super(`storage in ${directory} is closed; open it again to use it`)
  }
}

/**
 * A write or fsync to the log failed (disk full, I/O error). After a failed
 * fsync the kernel may have dropped the dirty pages, so what is on disk is
 * unknown: the adapter refuses every later call rather than answer from an
 * index that may not match the disk. Fix the cause, then open it again; the
 * checksums sort out whatever half-written record was left behind.
 */
export class StorageFailedError extends CairnError {
  constructor(
    readonly directory: string,
    override readonly cause: unknown,
  ) {
    super(`storage in ${directory} failed to write (${describe(cause)}); fix the cause and open it again`)
  }
}

/** The log file is not a Cairn storage log, or was written by a newer version. */
export class StorageFormatError extends CairnError {}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code ?? (error instanceof Error ? error.message : String(error))
}
