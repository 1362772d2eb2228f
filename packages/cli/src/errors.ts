import { CairnError, CodecError, TypeDefinitionError, ValidationError } from "@cairn/core"

/** Bad command-line input: exit code 2. */
export class UsageError extends CairnError {}

/** Exit code for an error: 2 for usage errors (bad flags, bad type names, invalid JSON), 1 for everything else. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || error instanceof TypeDefinitionError) return 2
  const code = (error as { exitCode?: unknown } | null)?.exitCode
  if (typeof code === "number") return code
  return 1
}

/** One line for stderr, starting "cairn: ". */
export function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return `cairn: ${message.split("\n")[0]}`
}

/** An error that came back from a running server, with the exit code it chose. */
export class RemoteError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

export { CodecError, ValidationError }
