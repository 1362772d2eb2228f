/**
 * How the catalog's records (its snapshot and its log records) are stored.
 *
 * Format 2 (written now): CBOR, each entry a short array, the types and
 * creating machines listed once per record and referred to by position,
 * heads as raw hash bytes, and `modifiedAt` as its distance from
 * `createdAt`. An entry took about 250 bytes as JSON with its field names,
 * as much as the document it lists; it takes about 80 now.
 *
 * Format 1 (read still): JSON, `{ format: 1, epoch, seq, entries }` for a
 * snapshot and `{ seq, entries }` for a log record, entries as objects.
 * The two are told apart by their first byte: JSON's `{` is a CBOR text
 * string with an 8-byte length, which no record of ours begins with.
 */
import { Decoder, Encoder } from "cbor-x"
import type { CatalogEntry } from "./CatalogEntry.js"

export interface SnapshotRecord {
  format: number
  epoch: string
  seq: number
  entries: CatalogEntry[]
}

export interface LogRecord {
  seq: number
  entries: CatalogEntry[]
}

export const FORMAT = 2
const JSON_FORMAT = 1
const JSON_START = 0x7b

const cbor = new Encoder({ tagUint8Array: false, useRecords: false })
const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true })
const textDecoder = new TextDecoder()

/**
 * A packed entry: id, type index, createdAt, machine index, modifiedAt − createdAt, deletedAt, heads, seq, then
 * quarantined, purged, vouches and mine when set (null before a later one that is).
 */
type Row = [
  string,
  number,
  number,
  number,
  number,
  number | null,
  Uint8Array | string[],
  number | null,
  (string | null)?,
  (true | null)?,
  (Uint8Array | null)?,
  true?,
]

interface Packed {
  format: number
  types: string[]
  machines: string[]
  rows: Row[]
}

export function encodeSnapshot(record: SnapshotRecord): Uint8Array {
  return cbor.encode({ ...pack(record.entries), epoch: record.epoch, seq: record.seq })
}

export function encodeLog(record: LogRecord): Uint8Array {
  return cbor.encode({ ...pack(record.entries), seq: record.seq })
}

/** A snapshot in either format; throws on anything else. */
export function decodeSnapshot(bytes: Uint8Array): SnapshotRecord {
  if (bytes[0] === JSON_START) {
    const parsed = JSON.parse(textDecoder.decode(bytes))
    if (parsed.format !== JSON_FORMAT || !Array.isArray(parsed.entries)) throw new Error("bad snapshot")
    return parsed
  }
  const packed = decodePacked(bytes) as Packed & { epoch: unknown; seq: unknown }
  if (typeof packed.seq !== "number") throw new Error("bad snapshot")
  return { format: FORMAT, epoch: String(packed.epoch), seq: packed.seq, entries: unpack(packed) }
}

/** A log record in either format; throws on anything else. */
export function decodeLog(bytes: Uint8Array): LogRecord {
  if (bytes[0] === JSON_START) {
    const parsed = JSON.parse(textDecoder.decode(bytes))
    if (typeof parsed.seq !== "number" || !Array.isArray(parsed.entries)) throw new Error("bad log record")
    return parsed
  }
  const packed = decodePacked(bytes) as Packed & { seq: unknown }
  if (typeof packed.seq !== "number") throw new Error("bad log record")
  return { seq: packed.seq, entries: unpack(packed) }
}

function decodePacked(bytes: Uint8Array): Packed {
  const packed = cborDecoder.decode(bytes) as Packed
  if (
    typeof packed !== "object" ||
    packed === null ||
    packed.format !== FORMAT ||
    !Array.isArray(packed.types) ||
    !Array.isArray(packed.machines) ||
    !Array.isArray(packed.rows)
  )
    throw new Error("bad catalog record")
  return packed
}

function pack(entries: readonly CatalogEntry[]): Packed {
  const types = new Indexer()
  const machines = new Indexer()
  const rows = entries.map((entry): Row => {
    const row: Row = [
      entry.id,
      types.of(entry.type),
      entry.createdAt,
      machines.of(entry.createdBy),
      entry.modifiedAt - entry.createdAt,
      entry.deletedAt,
      packHeads(entry.heads),
      entry.seq ?? null,
    ]
    const tail: Row[8 | 9 | 10 | 11][] = [entry.quarantined ?? null, entry.purged ?? null, entry.vouches ?? null, entry.mine ?? null]
    while (tail.length > 0 && tail.at(-1) === null) tail.pop()
    ;(row as unknown[]).push(...tail)
    return row
  })
  return { format: FORMAT, types: types.values, machines: machines.values, rows }
}

function unpack(packed: Packed): CatalogEntry[] {
  return packed.rows.map(row => {
    const [id, type, createdAt, machine, sinceCreated, deletedAt, heads, seq, quarantined, purged, vouches, mine] = row
    const entry: CatalogEntry = {
      id,
      type: packed.types[type]!,
      createdAt,
      createdBy: packed.machines[machine]!,
      modifiedAt: createdAt + sinceCreated,
      deletedAt,
      heads: unpackHeads(heads),
    }
    if (purged) entry.purged = true
    if (typeof quarantined === "string") entry.quarantined = quarantined
    if (typeof seq === "number") entry.seq = seq
    // A copy: the decoder's bytes may be a view of the whole record, which would stay in memory with the entry.
    if (vouches instanceof Uint8Array && vouches.byteLength > 0) entry.vouches = new Uint8Array(vouches)
    if (mine === true) entry.mine = true
    return entry
  })
}

const HASH_HEX = /^[0-9a-f]{64}$/

/** Heads as their hashes' bytes, one after another; any head that is not a hash keeps them all as strings. */
function packHeads(heads: readonly string[]): Uint8Array | string[] {
  if (!heads.every(head => HASH_HEX.test(head))) return [...heads]
  const bytes = new Uint8Array(heads.length * 32)
  heads.forEach((head, i) => {
    for (let j = 0; j < 32; j++) bytes[i * 32 + j] = (NIBBLE[head.charCodeAt(j * 2)]! << 4) | NIBBLE[head.charCodeAt(j * 2 + 1)]!
  })
  return bytes
}

function unpackHeads(heads: Uint8Array | string[]): string[] {
  if (Array.isArray(heads)) return heads.map(String)
  if (!(heads instanceof Uint8Array) || heads.byteLength % 32 !== 0) throw new Error("bad heads in catalog record")
  const out: string[] = []
  for (let start = 0; start < heads.byteLength; start += 32) {
    for (let j = 0; j < 32; j++) {
      const byte = heads[start + j]!
      HEX_CODES[j * 2] = DIGIT_CODES[byte >> 4]!
      HEX_CODES[j * 2 + 1] = DIGIT_CODES[byte & 15]!
    }
    out.push(String.fromCharCode.apply(null, HEX_CODES))
  }
  return out
}

/**
 * Hex by table, both ways: opening a catalog of 10,000 entries turns 10,000
 * heads back into hex. Appending toString(16).padStart per byte made 32
 * strings a head, then flattened when the head was first compared: in a
 * fresh process, five times the time and garbage the process then stopped to
 * collect. One string is made a head from its 64 char codes (String.fromCharCode
 * over an array reused from head to head), flat from the start.
 */
const DIGIT_CODES = Array.from("0123456789abcdef", digit => digit.charCodeAt(0))
const HEX_CODES: number[] = new Array(64).fill(0)
/** The value of each lowercase hex digit by its char code (packHeads has checked the heads are hex). */
const NIBBLE = new Uint8Array(128)
for (let digit = 0; digit < 16; digit++) NIBBLE[DIGIT_CODES[digit]!] = digit

/** Strings listed once, each referred to by its position. */
class Indexer {
  readonly values: string[] = []
  readonly #index = new Map<string, number>()

  of(value: string): number {
    let at = this.#index.get(value)
    if (at === undefined) {
      at = this.values.length
      this.values.push(value)
      this.#index.set(value, at)
    }
    return at
  }
}
