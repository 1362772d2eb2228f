/**
 * Every failure a caller can act on has its own class, so code can branch on
 * `instanceof` and people can read the message. Each message says what was
 * wrong and, where it helps, what to do instead.
 */
import type { TaggedKind } from "./schema/kinds.js"

export class CairnError extends Error {
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

/** A value does not match its type definition (wrong kind, missing field, unknown field). */
export class ValidationError extends CairnError {
  /** Where in the document the problem is, as a path of keys and indexes. */
  readonly path: readonly (string | number)[]
  constructor(message: string, path: readonly (string | number)[] = []) {
    super(path.length ? `${message} (at ${formatPath(path)})` : message)
    this.path = path
  }
}

/**
 * A write would replace a value with one of another kind (a counter with a
 * string, a list with a map). Where no definition says what a field is, a
 * tool refuses that unless told to (`cairn set --force-kind`).
 */
export class KindChangeError extends ValidationError {
  constructor(
    path: readonly (string | number)[],
    readonly from: TaggedKind,
    readonly to: TaggedKind,
  ) {
    super(`refusing to replace ${withArticle(from)} with ${withArticle(to)}, which would change its kind`, path)
  }
}

const withArticle = (kind: TaggedKind) => (kind === "text" ? "text" : `a ${kind}`)

/** A type name is not allowed, or a type definition is malformed. */
export class TypeDefinitionError extends CairnError {}

/** Something tried to change a document's type, which is fixed at creation. */
export class ImmutableTypeError extends CairnError {}

/** No document with this id is known here. */
export class NotFoundError extends CairnError {
  constructor(readonly id: string) {
    super(`no document with id ${id}`)
  }
}

/** The document exists but is not of the type the caller asked for. */
export class WrongTypeError extends CairnError {
  constructor(
    readonly id: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`document ${id} is a ${actual}, not a ${expected}`)
  }
}

/** The document is deleted; changes to it are refused until it is restored. */
export class DeletedDocumentError extends CairnError {
  constructor(readonly id: string) {
    super(`document ${id} is deleted; a deleted document cannot be changed`)
  }
}

/** The document arrived from a peer in a state we refuse to show (for example its type was changed). */
export class QuarantinedError extends CairnError {
  constructor(
    readonly id: string,
    readonly reason: string,
  ) {
    super(`document ${id} is quarantined: ${reason}`)
  }
}

/** A document's body was purged; only its tombstone remains. */
export class PurgedError extends CairnError {
  constructor(readonly id: string) {
    super(`document ${id} was purged; its body no longer exists`)
  }
}

/** A change hash that is not one of the document's changes (a typo, or a change this peer has not received). */
export class UnknownChangeError extends CairnError {
  constructor(
    readonly id: string,
    readonly hash: string,
  ) {
    super(`document ${id} has no change ${hash}; its history lists the changes it has`)
  }
}

/** A wait ran out of time before what it waited for happened (a sync, a save); the message says what. */
export class TimeoutError extends CairnError {}

/** Export/import input that cannot be decoded. */
export class CodecError extends CairnError {}

/** The database was closed; open it again to continue. */
export class ClosedError extends CairnError {
  constructor() {
    super("the database is closed")
  }
}

/**
 * Changes an app on this machine sent to the peer holding the data
 * directory were refused before anything was applied (malformed, made as
 * another machine, rewriting what a document fixed at creation); the
 * message says which document and why.
 */
export class RefusedChangeError extends CairnError {}

/** A presence state or an ephemeral message that cannot be sent (too large, not JSON). */
export class PresenceError extends CairnError {}

/** A query that cannot be run as given (an unknown operator in `where`, say); the message says what is wrong. */
export class QueryError extends CairnError {}

export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return "the document root"
  return path.map(String).join(".")
}
