/**
 * Cairn's replication protocol: the control messages two peers exchange
 * beside automerge-repo's per-document sync, to find and move only the
 * documents that differ, in batches.
 *
 *   A → B  pull   { since, id }        "what changed since my checkpoint of you?"
 *   B → A  offer  { entries, seq, pull } ids, types and heads of changed documents
 *                                      of types A may have (never any other id),
 *                                      answering pull `id` (in chunks; the last is `done`)
 *   A → B  want   { docs: {id, have} } the ones whose heads A lacks
 *   B → A  docs   { docs: {id, bytes, vouches?} } changes since `have` (or whole documents), with the vouches of
 *                                      their machines (identity/vouch.ts): a change no vouch reaches is refused
 *   A ↔ B  vouches { id, vouches }     the vouches for the changes of the next automerge-repo message about `id`
 *   A → B  pulled { seq, echo? }       A now holds everything B had at `seq`; `echo` {epoch, from, seq}: every
 *                                      entry of A's B may read changed after `from` (the last offer A served B)
 *                                      is one B offered A with those heads, so B's checkpoint of A may move to
 *                                      `seq` without pulling (B answers `pulled`, or pulls when it cannot)
 *   B → A  notify                      B changed something A may want: pull again
 *   B → A  denied { ids, reason }      B refused A's changes to these documents (no write grant)
 *   A ↔ B  presence { body, sig, ... } a machine's state and links, signed by it (see presence/Presence.ts)
 *   A ↔ B  definitions { defs }        at connect: its definitions of the types the other may read or write
 *                                      (see replication/definitions.ts)
 *
 * A checkpoint is (B's catalog epoch, B's change sequence number), so a
 * reconnect after a day offline moves the entries changed since, not a
 * listing of every document. The epoch B offers also names what it sends A
 * (A's wants and A's read grant): a checkpoint taken under narrower ones
 * does not hold, so a widened grant brings the older documents.
 *
 * Every pull and every want gets an answer (a want for a document B cannot
 * send is answered `refused`); A asks again when one does not come (see
 * PeerSession), and ignores offers for a pull it has since sent again.
 */
import { describedType } from "../schema/schemaDocuments.js"
import { MAX_DEFINITIONS } from "./definitions.js"
import { VOUCH_BYTES } from "../identity/vouch.js"

export const PROTOCOL_VERSION = 1

/** Which types a peer wants: a list, or every type. */
export type TypeSelection = readonly string[] | "*"

/** What a peer says about itself when it connects (the hello/welcome info). */
export interface ReplicationInfo {
  protocol: number
  machineId: string
  name?: string
  /** The types it wants to receive. */
  wants: TypeSelection
  /** True for a relay: it keeps every type it is sent. */
  relay?: boolean
}

/** What a connected peer may do here, as its connection was admitted. */
export interface Grants {
  /** Types the peer may receive from us. */
  read: TypeSelection
  /** Types we accept changes to from the peer. */
  write: TypeSelection
}

export interface Checkpoint {
  epoch: string
  seq: number
}

export interface OfferEntry {
  id: string
  type: string
  heads: string[]
  purged?: true
  deletedAt?: number | null
  modifiedAt?: number
}

/**
 * A peer's word that its catalog changed from `from` to `seq` (of `epoch`)
 * only with documents we offered it, with the heads we offered: we hold
 * them all (see PullingLane.advance).
 */
export interface Echo {
  epoch: string
  from: number
  seq: number
}

/** A document sent in a `docs` message. */
export interface DocsEntry {
  id: string
  bytes: Uint8Array
  /** Vouches (identity/vouch.ts), one after another. */
  vouches?: Uint8Array
}

/** The most vouches one document may come with (one per machine that wrote it, usually a handful). */
export const MAX_VOUCHES = 256

/** True for vouches as sent: whole vouches, not too many. */
function isVouchList(value: unknown): boolean {
  return value instanceof Uint8Array && value.byteLength % VOUCH_BYTES === 0 && value.byteLength <= MAX_VOUCHES * VOUCH_BYTES
}

/** A machine's presence: `body` is the signed JSON (id, seq, time, state, linked machine ids); `types` per link are not signed. */
export interface PresenceMessage {
  t: "presence"
  body: string
  sig: Uint8Array
  /** The public key (hex) that signed it: the machine id in `body` must be derived from it. */
  key: string
  types?: string[][]
  /** How many more times it may be passed on. */
  hops: number
}

/** The largest presence body accepted (a state of 4 KiB and 64 links fit well within it). */
const MAX_PRESENCE_BODY = 16_384

export type ControlMessage =
  | { t: "pull"; since: Checkpoint | null; id?: number }
  | { t: "offer"; epoch: string; seq: number; entries: OfferEntry[]; done: boolean; pull?: number }
  | { t: "want"; docs: { id: string; have: string[] }[] }
  | { t: "docs"; docs: DocsEntry[]; refused?: { id: string; reason: string }[] }
  | { t: "vouches"; id: string; vouches: Uint8Array }
  | { t: "pulled"; seq: number; echo?: Echo }
  | { t: "notify" }
  | { t: "denied"; ids: string[]; reason: string }
  | { t: "definitions"; defs: unknown[] }
  | PresenceMessage

/** True when `type` is in the selection. */
export function selects(selection: TypeSelection, type: string): boolean {
  // The definitions of a type go where its documents go, and come only from who may write them (schema/schemaDocuments.ts).
  const subject = describedType(type) ?? type
  return selection === "*" || selection.includes(subject)
}

/** Check a control message's shape; returns a reason when it is malformed. */
export function malformed(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return "not an object"
  const m = message as Record<string, unknown>
  switch (m.t) {
    case "pull":
      if (
        m.since !== null &&
        (typeof m.since !== "object" ||
          typeof (m.since as Checkpoint).epoch !== "string" ||
          typeof (m.since as Checkpoint).seq !== "number")
      )
        return "pull: bad checkpoint"
      if (m.id !== undefined && typeof m.id !== "number") return "pull: bad id"
      return undefined
    case "offer":
      if (typeof m.epoch !== "string" || typeof m.seq !== "number" || !Array.isArray(m.entries)) return "offer: bad fields"
      if (m.pull !== undefined && typeof m.pull !== "number") return "offer: bad pull"
      for (const e of m.entries as OfferEntry[]) {
        if (
          typeof e !== "object" ||
          e === null ||
          typeof e.id !== "string" ||
          typeof e.type !== "string" ||
          !Array.isArray(e.heads) ||
          !e.heads.every(h => typeof h === "string")
        )
          return "offer: bad entry"
      }
      return undefined
    case "want":
      if (!Array.isArray(m.docs)) return "want: bad docs"
      for (const d of m.docs as { id: unknown; have: unknown }[]) {
        if (
          typeof d !== "object" ||
          d === null ||
          typeof d.id !== "string" ||
          !Array.isArray(d.have) ||
          !d.have.every(h => typeof h === "string")
        )
          return "want: bad entry"
      }
      return undefined
    case "docs":
      if (!Array.isArray(m.docs)) return "docs: bad docs"
      for (const d of m.docs as { id: unknown; bytes: unknown; vouches?: unknown }[]) {
        if (typeof d !== "object" || d === null || typeof d.id !== "string" || !(d.bytes instanceof Uint8Array)) return "docs: bad entry"
        if (d.vouches !== undefined && !isVouchList(d.vouches)) return "docs: bad vouches"
      }
      return undefined
    case "vouches":
      return typeof m.id === "string" && isVouchList(m.vouches) ? undefined : "vouches: bad fields"
    case "pulled": {
      if (typeof m.seq !== "number") return "pulled: bad seq"
      const echo = m.echo as Echo | undefined
      if (
        echo !== undefined &&
        (typeof echo !== "object" ||
          echo === null ||
          typeof echo.epoch !== "string" ||
          !Number.isSafeInteger(echo.from) ||
          !Number.isSafeInteger(echo.seq) ||
          echo.from < 0 ||
          echo.seq <= echo.from)
      )
        return "pulled: bad echo"
      return undefined
    }
    case "notify":
      return undefined
    case "denied":
      return Array.isArray(m.ids) && m.ids.every(id => typeof id === "string") && typeof m.reason === "string"
        ? undefined
        : "denied: bad fields"
    case "definitions":
      return Array.isArray(m.defs) && m.defs.length <= MAX_DEFINITIONS && m.defs.every(d => typeof d === "object" && d !== null)
        ? undefined
        : "definitions: bad list"
    case "presence":
      if (typeof m.body !== "string" || m.body.length > MAX_PRESENCE_BODY) return "presence: bad body"
      if (!(m.sig instanceof Uint8Array) || m.sig.length !== 64 || typeof m.key !== "string" || !/^[0-9a-f]{64}$/.test(m.key))
        return "presence: bad signature or key"
      if (!Number.isInteger(m.hops) || (m.hops as number) < 0 || (m.hops as number) > 16) return "presence: bad hops"
      if (
        m.types !== undefined &&
        !(
          Array.isArray(m.types) &&
          m.types.length <= 64 &&
          m.types.every(l => Array.isArray(l) && l.length <= 256 && l.every(t => typeof t === "string"))
        )
      )
        return "presence: bad types"
      return undefined
    default:
      return `unknown message ${JSON.stringify(m.t)}`
  }
}
