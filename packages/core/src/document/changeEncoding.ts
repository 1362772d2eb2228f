/**
 * Automerge's binary change format, written in JavaScript for one kind of
 * change only: a document's first change whose operations all set keys of
 * maps (scalars, and nested maps made in the same change). That is what
 * creating a small document is, and encoding it here costs a few
 * microseconds, where Automerge's own op-by-op insertion (each op spliced
 * into a dozen columns) cost about 25 µs an op, some 300 µs a document.
 *
 * The bytes are the ones Automerge writes for the same operations (same
 * columns, same run-length choices), so the change hash is the same: the
 * tests compare both on random data (test/changeEncoding.test.ts). Anything
 * else (text, lists, several changes) is Automerge's to write.
 *
 * Format (automerge.org/automerge-binary-format-spec): magic, 4 checksum
 * bytes (the first of the SHA-256 of what follows them), chunk type 1,
 * length, then deps, actor, seq, start op, time, message, other actors, the
 * operation columns' specs and lengths, the columns.
 */

/** One operation of the change, in op-counter order. */
export interface MapOp {
  /** Counter of the object's make-op in this change; 0 for the root. */
  obj: number
  key: string
  /** A scalar (with its Automerge type), or a new map (`make`). */
  value: ScalarValue | { make: "map" }
}

export type ScalarValue =
  | { type: "null" }
  | { type: "boolean"; value: boolean }
  | { type: "int" | "counter" | "timestamp"; value: number }
  | { type: "f64"; value: number }
  | { type: "str"; value: string }
  | { type: "bytes"; value: Uint8Array }

export interface FirstChange {
  actor: Uint8Array
  time: number
  message: string | undefined
  ops: MapOp[]
}

import { sha256 } from "@noble/hashes/sha2"
import { bytesToHex } from "@noble/hashes/utils"

export const MAGIC = [0x85, 0x6f, 0x4a, 0x83]
const EMPTY = new Uint8Array(0)
export const CHANGE_CHUNK = 1
const encoder = new TextEncoder()

/** Column specs: (column id << 4) | column type (shared with changeDecoding.ts). */
export const COLUMN = {
  OBJ_ACTOR: 0x01,
  OBJ_CTR: 0x02,
  KEY_STR: 0x15,
  INSERT: 0x34,
  ACTION: 0x42,
  VAL_LEN: 0x56,
  VAL_RAW: 0x57,
  PRED_GROUP: 0x70,
} as const
const { OBJ_ACTOR, OBJ_CTR, KEY_STR, INSERT, ACTION, VAL_LEN, VAL_RAW, PRED_GROUP } = COLUMN

export const ACTION_MAKE_MAP = 0
export const ACTION_SET = 1
const VALUE_TYPE = { null: 0, false: 1, true: 2, int: 4, f64: 5, str: 6, bytes: 7, counter: 8, timestamp: 9 } as const

/** The change's bytes, its checksum left zero for `sealChange` to fill in. */
export function encodeFirstChange(change: FirstChange): Uint8Array {
  for (const [, column] of COLUMNS) (column as Bytes | Rle<never>).reset()
  body.reset()
  for (const op of change.ops) {
    if (op.obj === 0) {
      objActor.append(null)
      objCtr.append(null)
    } else {
      objActor.append(0)
      objCtr.append(op.obj)
    }
    keyStr.append(op.key)
    pred.append(0)
    if ("make" in op.value) {
      action.append(ACTION_MAKE_MAP)
      valLen.append(VALUE_TYPE.null)
      continue
    }
    action.append(ACTION_SET)
    const before = valRaw.length
    const typeCode = writeValue(valRaw, op.value)
    valLen.append(((valRaw.length - before) * 16) | typeCode)
  }
  // No op inserts into a list: the insert column is one run of falses.
  if (change.ops.length > 0) uleb(insert, change.ops.length)
  const columns = COLUMNS.map(([spec, column]) => [spec, column.view()] as const).filter(([, data]) => data.byteLength > 0)

  uleb(body, 0) // no deps: a first change
  uleb(body, change.actor.byteLength)
  body.push(change.actor)
  uleb(body, 1) // seq
  uleb(body, 1) // start op
  sleb(body, change.time)
  str(body, change.message ?? "")
  uleb(body, 0) // no other actors
  uleb(body, columns.length)
  for (const [spec, data] of columns) {
    uleb(body, spec)
    uleb(body, data.byteLength)
  }
  for (const [, data] of columns) body.push(data)

  const length = new Bytes()
  uleb(length, body.length)
  const out = new Uint8Array(9 + length.length + body.length)
  out.set(MAGIC)
  out[8] = CHANGE_CHUNK
  out.set(length.view(), 9)
  out.set(body.view(), 9 + length.length)
  return out
}

/**
 * Fill in the checksum of a change from `encodeFirstChange` and return its
 * hash (hex): both are the SHA-256 of the bytes after the checksum.
 * Synchronous: WebCrypto's digest costs a trip to a worker thread per call,
 * more than the hash of a few hundred bytes.
 */
export function sealChange(bytes: Uint8Array): string {
  const digest = sha256(bytes.subarray(8))
  bytes.set(digest.subarray(0, 4), 4)
  return bytesToHex(digest)
}

function writeValue(out: Bytes, value: ScalarValue): number {
  switch (value.type) {
    case "null":
      return VALUE_TYPE.null
    case "boolean":
      return value.value ? VALUE_TYPE.true : VALUE_TYPE.false
    case "int":
    case "counter":
    case "timestamp":
      sleb(out, value.value)
      return VALUE_TYPE[value.type]
    case "f64": {
      const bytes = new Uint8Array(8)
      new DataView(bytes.buffer).setFloat64(0, value.value, true)
      out.push(bytes)
      return VALUE_TYPE.f64
    }
    case "str":
      out.push(encoder.encode(value.value))
      return VALUE_TYPE.str
    case "bytes":
      out.push(value.value)
      return VALUE_TYPE.bytes
  }
}

/** A growing byte buffer. */
class Bytes {
  #bytes = new Uint8Array(64)
  #length = 0

  get length(): number {
    return this.#length
  }

  byte(value: number): void {
    if (this.#length === this.#bytes.byteLength) this.#grow(1)
    this.#bytes[this.#length++] = value
  }

  push(bytes: Uint8Array): void {
    if (this.#length + bytes.byteLength > this.#bytes.byteLength) this.#grow(bytes.byteLength)
    this.#bytes.set(bytes, this.#length)
    this.#length += bytes.byteLength
  }

  /** The bytes written since the last reset (valid until the next write). */
  view(): Uint8Array {
    return this.#bytes.subarray(0, this.#length)
  }

  reset(): void {
    this.#length = 0
  }

  #grow(more: number): void {
    const bigger = new Uint8Array(Math.max(this.#bytes.byteLength * 2, this.#length + more))
    bigger.set(this.#bytes.subarray(0, this.#length))
    this.#bytes = bigger
  }
}

function uleb(out: Bytes, value: number): void {
  // Numbers above 2^31 (times in ms): no bit operators.
  do {
    let byte = value % 128
    value = Math.floor(value / 128)
    if (value > 0) byte |= 0x80
    out.byte(byte)
  } while (value > 0)
}

function sleb(out: Bytes, value: number): void {
  for (;;) {
    const byte = ((value % 128) + 128) % 128
    value = Math.floor(value / 128)
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)
    out.byte(done ? byte : byte | 0x80)
    if (done) return
  }
}

function str(out: Bytes, value: string): void {
  const bytes = encoder.encode(value)
  uleb(out, bytes.byteLength)
  out.push(bytes)
}

/** Keys repeat in every document of a type: each is encoded once (a few hundred kept). */
const encodedKeys = new Map<string, Uint8Array>()

function keyString(out: Bytes, key: string): void {
  let bytes = encodedKeys.get(key)
  if (!bytes) {
    if (encodedKeys.size >= 512) encodedKeys.clear()
    const utf8 = encoder.encode(key)
    const length = new Bytes()
    uleb(length, utf8.byteLength)
    bytes = new Uint8Array([...length.view(), ...utf8])
    encodedKeys.set(key, bytes)
  }
  out.push(bytes)
}

/**
 * Automerge's run-length encoder: a repeated value as (count, value), other
 * values as (-count, values...), nulls as (0, count); a column of nothing
 * but nulls is empty.
 */
class Rle<T extends number | string> {
  readonly #out = new Bytes()
  #state:
    | { kind: "empty" }
    | { kind: "nulls"; count: number }
    | { kind: "lone"; value: T }
    | { kind: "run"; value: T; count: number }
    | { kind: "literal"; values: T[]; last: T } = {
    kind: "empty",
  }
  #onlyNulls = true

  constructor(private readonly write: (out: Bytes, value: T) => void) {}

  append(value: T | null): void {
    const state = this.#state
    if (value === null) {
      if (state.kind === "nulls") state.count++
      else {
        this.#flush()
        this.#state = { kind: "nulls", count: 1 }
      }
      return
    }
    this.#onlyNulls = false
    switch (state.kind) {
      case "empty":
        this.#state = { kind: "lone", value }
        return
      case "nulls":
        this.#flush()
        this.#state = { kind: "lone", value }
        return
      case "lone":
        this.#state = state.value === value ? { kind: "run", value, count: 2 } : { kind: "literal", values: [state.value], last: value }
        return
      case "run":
        if (state.value === value) state.count++
        else {
          this.#flush()
          this.#state = { kind: "lone", value }
        }
        return
      case "literal":
        if (state.last === value) {
          this.#literal(state.values)
          this.#state = { kind: "run", value, count: 2 }
        } else {
          state.values.push(state.last)
          state.last = value
        }
    }
  }

  /** The column so far (flushed; valid until the next write). */
  view(): Uint8Array {
    this.#flush()
    return this.#onlyNulls ? EMPTY : this.#out.view()
  }

  reset(): void {
    this.#out.reset()
    this.#state = { kind: "empty" }
    this.#onlyNulls = true
  }

  #flush(): void {
    const state = this.#state
    if (state.kind === "nulls") {
      sleb(this.#out, 0)
      uleb(this.#out, state.count)
    } else if (state.kind === "lone") this.#literal([state.value])
    else if (state.kind === "run") {
      sleb(this.#out, state.count)
      this.write(this.#out, state.value)
    } else if (state.kind === "literal") this.#literal([...state.values, state.last])
    this.#state = { kind: "empty" }
  }

  #literal(values: T[]): void {
    sleb(this.#out, -values.length)
    for (const value of values) this.write(this.#out, value)
  }
}

/**
 * The columns' writers, reused: encoding is synchronous, and a document's
 * first change is small, so a few buffers serve every call.
 */
const objActor = new Rle(uleb)
const objCtr = new Rle(uleb)
const keyStr = new Rle(keyString)
const action = new Rle(uleb)
const valLen = new Rle(uleb)
const valRaw = new Bytes()
const pred = new Rle(uleb)
const insert = new Bytes()
const body = new Bytes()
const COLUMNS: [number, { view(): Uint8Array }][] = [
  [OBJ_ACTOR, objActor],
  [OBJ_CTR, objCtr],
  [KEY_STR, keyStr],
  [INSERT, insert],
  [ACTION, action],
  [VAL_LEN, valLen],
  [VAL_RAW, valRaw],
  [PRED_GROUP, pred],
]
