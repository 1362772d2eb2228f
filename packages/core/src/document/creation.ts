/**
 * A new document's first change (the whole envelope, see envelope.ts),
 * without `A.change(A.init(), d => ...)`.
 *
 * Why: through the change proxy, each assignment is the proxy's work plus a
 * call into WebAssembly that inserts the operation into a dozen columns
 * (about 25 µs an operation here), and `A.init` materialises a JavaScript
 * root a document written behind the repo never reads: together about two
 * thirds of the time of creating documents in transactions. Data of maps and
 * scalars (nearly every document) is encoded in JavaScript instead
 * (changeEncoding.ts), as the bytes Automerge itself writes for it; other
 * data (text, lists) goes to Automerge's backend directly, without the
 * proxy. Either way the operations are the proxy's, in its order (`type` is
 * operation 2, `createdBy` 3: envelope.ts relies on it), with its value
 * types, so the document and its change hash are the same as before.
 * (Automerge's batch write of a whole root, `initRootFromHydrate`, would be
 * cheaper, but it orders keys alphabetically, which would move `type`.)
 */
import type * as A from "@automerge/automerge"
import { interpretAsDocumentId, type BinaryDocumentId } from "@automerge/automerge-repo"
import { Counter, getBackend, ImmutableString, init } from "@automerge/automerge"
import { fromHex, toHex } from "../identity/actor.js"
import { encodeFirstChange, sealChange, type MapOp, type ScalarValue } from "./changeEncoding.js"
import { decodeFirstChange } from "./changeDecoding.js"
import type { Envelope } from "./envelope.js"

/**
 * A new random document id, as automerge-repo makes one (a version 4 UUID's
 * bytes, base58check-encoded), encoded once: going through an Automerge URL
 * and parsing it back cost a second base58check and its hashes.
 */
export function newDocumentId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = (bytes[6]! & 0x0f) | 0x40
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  return interpretAsDocumentId(bytes as BinaryDocumentId)
}

/** A new document's saved bytes and its one head. */
export interface NewDocument {
  bytes: Uint8Array
  head: string
}

type Backend = ReturnType<typeof getBackend>

/** An empty document per actor, forked for every new document (cheaper than `A.init`, which builds a JS root). */
const empties = new Map<string, Backend>()

function emptyFor(actor: string): Backend {
  let empty = empties.get(actor)
  if (!empty) {
    if (empties.size >= 16) {
      const [oldest, backend] = empties.entries().next().value!
      empties.delete(oldest)
      backend.free()
    }
    empty = getBackend(init({ actor: actor as A.ActorId }))
    empties.set(actor, empty)
  }
  return empty
}

/**
 * The first change of a document whose root is `envelope` (all of it: see
 * envelope.ts for the keys), made by `actor` at `time` (ms), as bytes that
 * load as the document. Data of maps and scalars only (most documents) is
 * encoded here (see changeEncoding.ts); other data is written by Automerge.
 * Throws a RangeError on a value Automerge cannot store.
 */
export function newDocument(actor: string, envelope: Envelope, time: number, message?: string): NewDocument {
  assertStorable(envelope.data, "data")
  const ops = envelopeOps(envelope)
  if (!ops) return buildNewDocument(actor, envelope, time, message)
  const bytes = encodeFirstChange({ actor: actorBytes(actor), time, message, ops })
  return { bytes, head: sealChange(bytes) }
}

/** A new document read from its first change without Automerge (see `readFirstChange`). */
export interface FirstChangeRead {
  /** The root as Automerge materialises it from these bytes (strings as ImmutableString, counters, dates, bytes). */
  root: Envelope
  /** The change's hash: the document's one head. */
  head: string
  /** The creating actor, hex. */
  actor: string
  /** The change's time as recorded (Cairn writes milliseconds). */
  time: number
}

/**
 * A document whose bytes are exactly the first change `newDocument` writes
 * for some envelope (this encoder's kind: maps and scalars), read in
 * JavaScript; undefined for any other bytes, which are Automerge's to load.
 *
 * Why it can be trusted: the root read is encoded again, as `newDocument`
 * would, and accepted only if that gives every byte of `bytes` (checksum
 * included), so these bytes are the canonical change of that root, which
 * Automerge loads as that root with that head (creation.test.ts compares the
 * two on random data). A change with anything else in it (a second value
 * for a key, a key out of order, an extra column) does not encode back alike.
 */
export function readFirstChange(bytes: Uint8Array): FirstChangeRead | undefined {
  const change = decodeFirstChange(bytes)
  if (!change) return undefined
  const maps: Record<string, unknown>[] = [{}]
  for (const [i, op] of change.ops.entries()) {
    const target = maps[op.obj]
    // A key set twice in one change is two concurrent values to Automerge: not this kind.
    if (!target || op.key === "__proto__" || Object.hasOwn(target, op.key)) return undefined
    if ("make" in op.value) {
      const map: Record<string, unknown> = {}
      maps[i + 1] = map
      target[op.key] = map
    } else target[op.key] = materialized(op.value)
  }
  const root = maps[0]!
  if (!isEnvelopeShaped(root)) return undefined
  const ops = envelopeOps(root)
  if (!ops) return undefined
  const again = encodeFirstChange({ actor: change.actor, time: change.time, message: change.message, ops })
  const head = sealChange(again)
  if (again.byteLength !== bytes.byteLength) return undefined
  for (let i = 0; i < again.byteLength; i++) if (again[i] !== bytes[i]) return undefined
  return { root, head, actor: toHex(change.actor), time: change.time }
}

/** A scalar as Automerge gives it to JavaScript. */
function materialized(value: ScalarValue): unknown {
  switch (value.type) {
    case "null":
      return null
    case "str":
      return new ImmutableString(value.value)
    case "counter":
      return new Counter(value.value)
    case "timestamp":
      return new Date(value.value)
    default:
      return value.value
  }
}

/** The root has the envelope's keys with values `envelopeOps` can write back (a missing one would not be an int). */
function isEnvelopeShaped(root: Record<string, unknown>): root is Record<string, unknown> & Envelope {
  return (
    Number.isSafeInteger(root.v) &&
    root.type instanceof ImmutableString &&
    root.createdBy instanceof ImmutableString &&
    typeof root.createdAt === "number" &&
    typeof root.typeVersion === "number" &&
    (root.deletedAt === null || typeof root.deletedAt === "number") &&
    typeof root.data === "object" &&
    root.data !== null &&
    root.creatorKey instanceof Uint8Array &&
    root.proof instanceof Uint8Array
  )
}

const actors = new Map<string, Uint8Array>()
function actorBytes(actor: string): Uint8Array {
  let bytes = actors.get(actor)
  if (!bytes) {
    if (actors.size >= 16) actors.delete(actors.keys().next().value!)
    actors.set(actor, (bytes = fromHex(actor)))
  }
  return bytes
}

/**
 * The envelope's operations in the order Automerge makes them (the root's
 * keys as written, then `data` as its batch write makes it: each map's keys
 * sorted, nested maps after their parent's keys, breadth first), or
 * undefined when the data holds something only Automerge writes here (text,
 * a list, a key outside ASCII, whose sort order Automerge decides).
 */
function envelopeOps(envelope: Envelope): MapOp[] | undefined {
  const ops: MapOp[] = []
  const root = (key: string, value: ScalarValue) => ops.push({ obj: 0, key, value })
  root("v", { type: "int", value: envelope.v })
  root("type", { type: "str", value: envelope.type.val })
  root("createdBy", { type: "str", value: envelope.createdBy.val })
  for (const key of ["createdAt", "typeVersion", "deletedAt"] as const) {
    const value = scalar(envelope[key])
    if (!value) return undefined
    root(key, value)
  }
  ops.push({ obj: 0, key: "data", value: { make: "map" } })
  const queue: [number, Record<string, unknown>][] = [[ops.length, envelope.data]]
  for (let next = queue.shift(); next; next = queue.shift()) {
    const [obj, map] = next
    for (const key of Object.keys(map).sort()) {
      if (!/^[\x20-\x7e]*$/.test(key)) return undefined
      const value = map[key]
      if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        ops.push({ obj, key, value: { make: "map" } })
        queue.push([ops.length, value as Record<string, unknown>])
        continue
      }
      const converted = hydratedScalar(value)
      if (!converted) return undefined
      ops.push({ obj, key, value: converted })
    }
  }
  root("creatorKey", { type: "bytes", value: envelope.creatorKey })
  root("proof", { type: "bytes", value: envelope.proof })
  return ops
}

/**
 * A scalar inside `data` as Automerge's batch write stores it: a number is an
 * integer there only if it is a positive integer (0 and negative integers
 * are stored as floats, unlike through the proxy), and one too large for an
 * exact integer is left to Automerge.
 */
function hydratedScalar(value: unknown): ScalarValue | undefined {
  if (typeof value !== "number") return scalar(value)
  if (Number.isInteger(value) && value > 0) return Number.isSafeInteger(value) ? { type: "int", value } : undefined
  return { type: "f64", value }
}

/** A scalar as Automerge stores it (as the change proxy converts it), or undefined for anything else. */
function scalar(value: unknown): ScalarValue | undefined {
  if (value === null) return { type: "null" }
  if (typeof value === "boolean") return { type: "boolean", value }
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) return { type: "int", value }
    return Number.isInteger(value) ? undefined : { type: "f64", value }
  }
  if (value instanceof ImmutableString) return { type: "str", value: value.val }
  if (value instanceof Uint8Array) return { type: "bytes", value }
  if (value instanceof Counter && Number.isSafeInteger(value.value)) return { type: "counter", value: value.value }
  if (value instanceof Date && Number.isSafeInteger(value.getTime())) return { type: "timestamp", value: value.getTime() }
  return undefined
}

/**
 * Stored data as Automerge reads it back from the document: each map's keys
 * in sorted order (how it materialises a map), values as they were.
 */
export function asMaterialized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asMaterialized)
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) out[key] = asMaterialized((value as Record<string, unknown>)[key])
  return out
}

/** What `newDocument` falls back to: the same change, written through Automerge's backend. */
export function buildNewDocument(actor: string, envelope: Envelope, time: number, message?: string): NewDocument {
  const backend = emptyFor(actor).fork(actor)
  try {
    backend.put("_root", "v", envelope.v, "int")
    backend.put("_root", "type", envelope.type.val, "str")
    backend.put("_root", "createdBy", envelope.createdBy.val, "str")
    backend.put("_root", "createdAt", envelope.createdAt, numberType(envelope.createdAt))
    backend.put("_root", "typeVersion", envelope.typeVersion, numberType(envelope.typeVersion))
    if (envelope.deletedAt === null) backend.put("_root", "deletedAt", null, "null")
    else backend.put("_root", "deletedAt", envelope.deletedAt, numberType(envelope.deletedAt))
    backend.putObjectFromHydrate("_root", "data", envelope.data)
    backend.put("_root", "creatorKey", envelope.creatorKey, "bytes")
    backend.put("_root", "proof", envelope.proof, "bytes")
    const head = backend.commit(message ?? null, time)
    if (!head) throw new RangeError("a new document's first change recorded nothing")
    return { bytes: backend.save(), head }
  } finally {
    backend.free()
  }
}

/** Automerge's type for a JavaScript number, as the change proxy picks it. */
function numberType(value: number): "int" | "f64" {
  return Number.isInteger(value) ? "int" : "f64"
}

/**
 * Throw as the change proxy would on a value Automerge cannot store: the
 * batch write turns some of them (a function, a Map) into an empty map
 * without a word.
 */
function assertStorable(value: unknown, path: string): void {
  if (value === null) return
  switch (typeof value) {
    case "boolean":
    case "number":
    case "string":
    case "bigint":
      return
    case "object":
      if (value instanceof Uint8Array || value instanceof Date || value instanceof ImmutableString || value instanceof Counter) return
      if (Array.isArray(value)) return value.forEach((item, i) => assertStorable(item, `${path}/${i}`))
      if (Object.prototype.toString.call(value) === "[object Object]") {
        for (const [key, item] of Object.entries(value)) {
          if (key === "__proto__") throw new RangeError(`the key "__proto__" is not allowed (at ${path})`)
          assertStorable(item, `${path}/${key}`)
        }
        return
      }
  }
  throw new RangeError(`cannot store ${String(value)} at ${path}`)
}
