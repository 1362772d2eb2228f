/**
 * Reading back, in JavaScript, the one kind of change changeEncoding.ts
 * writes: a document's first change whose operations all set keys of maps.
 *
 * Why: a peer receiving an initial sync gets thousands of documents that are
 * each exactly such a change, and loading each with Automerge (WebAssembly
 * that a fresh process has not compiled yet, and a materialised JavaScript
 * root) was most of the time the receiver spent on a document.
 *
 * This decoder is deliberately lenient about what it is shown and strict
 * about what it is trusted with: it reads only this kind of change and
 * returns undefined for anything else, and its caller trusts what it read
 * only after encoding it again gives the very same bytes (`readFirstChange`
 * in creation.ts), so a change Automerge would read differently can never
 * pass as one it reads this way. It never throws on bad bytes.
 */
import {
  ACTION_MAKE_MAP,
  ACTION_SET,
  CHANGE_CHUNK,
  COLUMN,
  MAGIC,
  type FirstChange,
  type MapOp,
  type ScalarValue,
} from "./changeEncoding.js"

const { OBJ_ACTOR, OBJ_CTR, KEY_STR, INSERT, ACTION, VAL_LEN, VAL_RAW, PRED_GROUP } = COLUMN
const KNOWN_COLUMNS = new Set<number>(Object.values(COLUMN))

const decoder = new TextDecoder("utf-8", { fatal: true })

/**
 * Thrown inside the decoder only, for any byte it cannot take; the exported function turns it into undefined.
 * Not an Error: most bytes that are not this kind (a saved document) stop at the header, and capturing a stack
 * for each cost a browser pulling 3,000 such documents a quarter of a second.
 */
class NotThisKind {}
const NOT_THIS_KIND = new NotThisKind()

/** A read position over bytes; every read checks the bounds. */
class Reader {
  offset: number

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.byteLength,
  ) {
    this.offset = start
  }

  get done(): boolean {
    return this.offset >= this.end
  }

  byte(): number {
    if (this.offset >= this.end) throw NOT_THIS_KIND
    return this.bytes[this.offset++]!
  }

  take(length: number): Uint8Array {
    if (length < 0 || this.offset + length > this.end) throw NOT_THIS_KIND
    const out = this.bytes.subarray(this.offset, this.offset + length)
    this.offset += length
    return out
  }

  /** Unsigned LEB128, up to a safe integer. */
  uleb(): number {
    let value = 0
    let scale = 1
    for (;;) {
      const byte = this.byte()
      value += (byte & 0x7f) * scale
      if ((byte & 0x80) === 0) break
      scale *= 128
      if (scale > 2 ** 49) throw NOT_THIS_KIND
    }
    if (!Number.isSafeInteger(value)) throw NOT_THIS_KIND
    return value
  }

  /** Signed LEB128, up to a safe integer either way. */
  sleb(): number {
    let value = 0
    let scale = 1
    for (;;) {
      const byte = this.byte()
      value += (byte & 0x7f) * scale
      scale *= 128
      if ((byte & 0x80) === 0) {
        if (byte & 0x40) value -= scale
        break
      }
      if (scale > 2 ** 49) throw NOT_THIS_KIND
    }
    if (!Number.isSafeInteger(value)) throw NOT_THIS_KIND
    return value
  }

  string(length: number): string {
    try {
      return decoder.decode(this.take(length))
    } catch {
      throw NOT_THIS_KIND
    }
  }
}

/** A run-length encoded column (see the encoder's Rle) as its values, nulls included; at most `limit` of them. */
function rle<T>(reader: Reader, read: (r: Reader) => T, limit: number): (T | null)[] {
  const out: (T | null)[] = []
  while (!reader.done) {
    const count = reader.sleb()
    if (count > 0) {
      if (out.length + count > limit) throw NOT_THIS_KIND
      const value = read(reader)
      for (let i = 0; i < count; i++) out.push(value)
    } else if (count < 0) {
      if (out.length - count > limit) throw NOT_THIS_KIND
      for (let i = 0; i < -count; i++) out.push(read(reader))
    } else {
      const nulls = reader.uleb()
      if (out.length + nulls > limit) throw NOT_THIS_KIND
      for (let i = 0; i < nulls; i++) out.push(null)
    }
  }
  return out
}

function scalarOf(typeCode: number, raw: Uint8Array): ScalarValue {
  switch (typeCode) {
    case 0:
    case 1:
    case 2:
      if (raw.byteLength !== 0) throw NOT_THIS_KIND
      return typeCode === 0 ? { type: "null" } : { type: "boolean", value: typeCode === 2 }
    case 4:
    case 8:
    case 9: {
      const reader = new Reader(raw)
      const value = reader.sleb()
      // Automerge gives 2^53 − 1 as a bigint (every smaller magnitude as a number): left to Automerge to load.
      if (!reader.done || value >= Number.MAX_SAFE_INTEGER) throw NOT_THIS_KIND
      return { type: typeCode === 4 ? "int" : typeCode === 8 ? "counter" : "timestamp", value }
    }
    case 5:
      if (raw.byteLength !== 8) throw NOT_THIS_KIND
      return { type: "f64", value: new DataView(raw.buffer, raw.byteOffset, 8).getFloat64(0, true) }
    case 6:
      return { type: "str", value: new Reader(raw).string(raw.byteLength) }
    case 7:
      return { type: "bytes", value: raw.slice() }
    default:
      throw NOT_THIS_KIND
  }
}

/**
 * The first change in `bytes` (one whole change chunk, nothing after it) as
 * `encodeFirstChange` takes it, or undefined when the bytes are anything else.
 * Its checksum is not checked here: the caller encodes the result again and
 * compares every byte.
 */
export function decodeFirstChange(bytes: Uint8Array): FirstChange | undefined {
  try {
    return decode(bytes)
  } catch (error) {
    if (error instanceof NotThisKind) return undefined
    throw error
  }
}

function decode(bytes: Uint8Array): FirstChange {
  const head = new Reader(bytes)
  for (const byte of MAGIC) if (head.byte() !== byte) throw NOT_THIS_KIND
  head.take(4)
  if (head.byte() !== CHANGE_CHUNK) throw NOT_THIS_KIND
  const length = head.uleb()
  if (head.offset + length !== bytes.byteLength) throw NOT_THIS_KIND
  const body = new Reader(bytes, head.offset)
  if (body.uleb() !== 0) throw NOT_THIS_KIND // dependencies: a first change has none
  const actor = body.take(body.uleb()).slice()
  if (body.uleb() !== 1 || body.uleb() !== 1) throw NOT_THIS_KIND // seq and start op
  const time = body.sleb()
  const messageLength = body.uleb()
  const message = messageLength > 0 ? body.string(messageLength) : undefined
  if (body.uleb() !== 0) throw NOT_THIS_KIND // other actors
  const columnCount = body.uleb()
  if (columnCount > KNOWN_COLUMNS.size) throw NOT_THIS_KIND
  const specs: [number, number][] = []
  for (let i = 0; i < columnCount; i++) {
    const spec = body.uleb()
    if (!KNOWN_COLUMNS.has(spec)) throw NOT_THIS_KIND
    specs.push([spec, body.uleb()])
  }
  const columns = new Map<number, Reader>()
  for (const [spec, size] of specs) {
    const start = body.offset
    body.take(size)
    columns.set(spec, new Reader(bytes, start, start + size))
  }
  const empty = new Reader(bytes, 0, 0)
  const column = (spec: number) => columns.get(spec) ?? empty
  // Every op has an action; no column may hold more values than there are ops.
  const limit = bytes.byteLength
  const actions = rle(column(ACTION), r => r.uleb(), limit)
  const count = actions.length
  const padded = <T>(values: (T | null)[]): (T | null)[] => {
    if (values.length > count) throw NOT_THIS_KIND
    while (values.length < count) values.push(null)
    return values
  }
  const objActors = padded(rle(column(OBJ_ACTOR), r => r.uleb(), count))
  const objCtrs = padded(rle(column(OBJ_CTR), r => r.uleb(), count))
  const keys = padded(rle(column(KEY_STR), r => r.string(r.uleb()), count))
  const valLens = padded(rle(column(VAL_LEN), r => r.uleb(), count))
  const preds = padded(rle(column(PRED_GROUP), r => r.uleb(), count))
  // The insert column: alternating runs of false and true, false first. No op here inserts.
  const inserts = column(INSERT)
  let falses = 0
  while (!inserts.done) {
    falses += inserts.uleb()
    if (!inserts.done && inserts.uleb() > 0) throw NOT_THIS_KIND
  }
  if (falses > count) throw NOT_THIS_KIND
  const raw = column(VAL_RAW)
  const ops: MapOp[] = []
  for (let i = 0; i < count; i++) {
    const key = keys[i]
    if (key == null || preds[i] !== 0) throw NOT_THIS_KIND
    const actorIndex = objActors[i]
    const ctr = objCtrs[i]
    if ((actorIndex === null) !== (ctr === null) || (actorIndex !== null && actorIndex !== 0)) throw NOT_THIS_KIND
    const obj = ctr ?? 0
    const lenType = valLens[i]
    if (lenType == null) throw NOT_THIS_KIND
    const value = scalarOf(lenType & 0x0f, raw.take(Math.floor(lenType / 16)))
    if (actions[i] === ACTION_MAKE_MAP) {
      if (value.type !== "null") throw NOT_THIS_KIND
      ops.push({ obj, key, value: { make: "map" } })
    } else if (actions[i] === ACTION_SET) {
      ops.push({ obj, key, value })
    } else throw NOT_THIS_KIND
  }
  if (!raw.done || !body.done) throw NOT_THIS_KIND
  return { actor, time, message, ops }
}
