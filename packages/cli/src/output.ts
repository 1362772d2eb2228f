/**
 * What each command prints for a person (without --json): ids, aligned
 * tables, and readable blocks. Times are UTC, as `2026-12-01 21:50:03Z`.
 */
import { describeMismatch, type Doc, type SchemaMismatch } from "@cairn/core"
import { folderSyncLine, type FolderSyncReport } from "./folder.js"

type Selection = "*" | string[] | null

interface DocumentResult extends Doc {
  /** Added for a person (see Request.human): the data as tagged JSON, and the change it was read at. */
  tagged?: Record<string, unknown>
  at?: string | null
  machines?: Record<string, string>
}

interface PeerRow {
  machineId: string
  name: string | null
  read: Selection
  write: Selection
  lastSeen: number | null
  connected: boolean
  /** Types the machine defines in a way this peer cannot live beside (folder links have none). */
  schemas?: SchemaMismatch[]
}

interface PresenceRow {
  machineId: string
  name?: string
  state: Record<string, unknown>
  heardAt: number
  via?: string
  links: { machineId: string; types: string[] }[]
}

interface NearbyRow {
  name: string
  machineId: string
  address: string
  ports: Record<string, number>
  trusted: boolean
  connected: boolean
}

interface SyncResult {
  sent: number
  received: number
  documents: number
  denied: { id: string; type: string; reason: string }[]
}

/** How each command prints its result when --json is not given; one not listed prints indented JSON, one that returns undefined nothing. */
export const humanOutput: Record<string, (result: any) => string | undefined> = {
  init: r => machineLines(r),
  whoami: r => machineLines(r),
  create: doc => doc.id,
  set: () => undefined,
  unset: () => undefined,
  incr: () => undefined,
  text: () => undefined,
  rm: () => undefined,
  restore: () => undefined,
  purge: () => undefined,
  untrust: () => undefined,
  get: (doc: DocumentResult) => documentBlock(doc),
  ls: (docs: DocumentResult[]) => (docs.length === 0 ? "no documents" : documentTable(docs)),
  history: (result: {
    changes: { hash: string; machineId: string; time: number; message: string | null }[]
    machines: Record<string, string>
  }) =>
    table(
      ["HASH", "TIME", "MACHINE", "MESSAGE"],
      result.changes.map(change => [
        change.hash.slice(0, SHORT_HASH),
        readableTime(change.time),
        machine(change.machineId, result.machines),
        change.message ?? "",
      ]),
    ),
  presence: (entries: PresenceRow[]) =>
    table(
      ["MACHINE", "NAME", "STATE", "HEARD", "VIA", "LINKS"],
      entries.map(entry => [
        entry.machineId,
        entry.name ?? "",
        JSON.stringify(entry.state),
        readableTime(entry.heardAt),
        entry.via ?? "(this machine)",
        entry.links.map(link => `${link.machineId.slice(0, 8)}(${link.types.join(",") || "-"})`).join(" "),
      ]),
    ),
  peers: (peers: PeerRow[] | { nearby: NearbyRow[] }) =>
    "nearby" in peers
      ? peers.nearby.length === 0
        ? "no Cairn peers found on the local network"
        : nearbyTable(peers.nearby)
      : peers.length === 0
        ? "no trusted or connected machines"
        : peerTable(peers),
  status: r =>
    block([
      ["data directory", r.dataDir],
      ["machine", `${r.machine.machineId}${r.machine.name ? ` (${r.machine.name})` : ""}`],
      ["public key", r.machine.publicKey],
      [
        "documents",
        Object.entries(r.documents)
          .map(([type, count]) => `${type} ${count}`)
          .join(", ") || "none",
      ],
      ["peers", r.peers.length === 0 ? "none" : ""],
    ]) + (r.peers.length === 0 ? "" : `\n${indent(peerTable(r.peers))}`),
  trust: r => `trusted ${r.machineId}${r.name ? ` (${r.name})` : ""}: it may read ${selection(r.read)}, write ${selection(r.write)}`,
  export: r => `exported ${r.exported} documents to ${r.dir}`,
  import: r =>
    [
      `imported: ${r.created} new, ${r.merged} merged with the copy here, ${r.changed} changed from their JSON, ${r.unchanged} already here`,
      ...r.newIds.map((n: { from: string; to: string }) => `${n.from} had no history in the export: imported as a new document ${n.to}`),
    ].join("\n"),
  sync: (r: SyncResult) =>
    "folder" in r
      ? folderSyncLine(r as FolderSyncReport)
      : r.denied.length === 0
        ? `in sync: sent ${r.sent}, received ${r.received}; ${r.documents} documents here`
        : `not in sync: the other peer refused changes to ${r.denied.length} document(s); sent ${r.sent}, received ${r.received}; ${r.documents} documents here`,
  quarantine: r =>
    Array.isArray(r)
      ? r.length === 0
        ? "nothing is quarantined"
        : r.map((q: { id: string; type: string; reason: string }) => `${q.id}  ${q.type}  ${q.reason}`).join("\n")
      : r.document
        ? `${r.id}  ${r.type}  quarantined: ${r.reason}\n${JSON.stringify(r.document, null, 2)}`
        : r.dropped
          ? `dropped ${r.dropped}`
          : `released ${r.released}`,
}

/** Characters of a change hash shown in tables; `cairn get --at` takes any unique prefix this long or longer. */
export const SHORT_HASH = 12

/** A time for people: UTC, to the second, as `2026-12-01 21:50:03Z`. */
export function readableTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")}Z`
}

/** Rows under a header, each column as wide as its widest cell, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map(row => row[i]!.length)))
  return [header, ...rows]
    .map(row =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
}

function machineLines(machine: { machineId: string; publicKey: string; name: string | null }): string {
  return block([
    ["machine", `${machine.machineId}${machine.name ? ` (${machine.name})` : ""}`],
    ["public key", machine.publicKey],
  ])
}

/** Label and value lines, the values aligned. */
function block(lines: [string, string][]): string {
  const width = Math.max(...lines.map(([label]) => label.length))
  return lines.map(([label, value]) => `${label.padEnd(width)}  ${value}`.trimEnd()).join("\n")
}

function indent(text: string): string {
  return text
    .split("\n")
    .map(line => `  ${line}`)
    .join("\n")
}

function documentBlock(doc: DocumentResult): string {
  const machines = doc.machines ?? {}
  const lines: [string, string][] = [
    ["id", doc.id],
    ["type", doc.type],
    ["created", `${readableTime(doc.createdAt)} by ${machine(doc.createdBy, machines)}`],
    ["modified", readableTime(doc.modifiedAt)],
  ]
  if (doc.deletedAt !== null) lines.push(["deleted", readableTime(doc.deletedAt)])
  if (doc.at) lines.push(["at change", `${doc.at} (the document as it was then)`])
  return `${block(lines)}\ndata\n${indent(taggedJSON(doc.tagged ?? doc.data))}`
}

function documentTable(docs: DocumentResult[]): string {
  const deleted = docs.some(doc => doc.deletedAt !== null)
  return table(
    ["ID", "TYPE", "MODIFIED", ...(deleted ? ["DELETED"] : []), "DATA"],
    docs.map(doc => [
      doc.id,
      doc.type,
      readableTime(doc.modifiedAt),
      ...(deleted ? [doc.deletedAt === null ? "" : readableTime(doc.deletedAt)] : []),
      summary(doc.data),
    ]),
  )
}

function peerTable(peers: PeerRow[]): string {
  const warnings = peers.flatMap(peer =>
    (peer.schemas ?? []).map(mismatch => `warning: ${describeMismatch(mismatch, peer.name ?? peer.machineId)}`),
  )
  return peerRows(peers) + (warnings.length > 0 ? `\n${warnings.join("\n")}` : "")
}

function peerRows(peers: PeerRow[]): string {
  return table(
    ["MACHINE", "NAME", "READ", "WRITE", "CONNECTED", "LAST SEEN"],
    peers.map(peer => [
      peer.machineId,
      peer.name ?? "",
      selection(peer.read),
      selection(peer.write),
      peer.connected ? "yes" : "no",
      peer.lastSeen === null ? "never" : readableTime(peer.lastSeen),
    ]),
  )
}

function nearbyTable(rows: NearbyRow[]): string {
  return table(
    ["NAME", "MACHINE", "ADDRESS", "TRUSTED", "CONNECTED"],
    rows.map(row => [
      row.name,
      row.machineId,
      Object.entries(row.ports)
        .map(([transport, port]) => `${transport}://${row.address}:${port}`)
        .join(" "),
      row.trusted ? "yes" : "no",
      row.connected ? "yes" : "no",
    ]),
  )
}

/** Longest data summary `ls` shows before cutting it with "…". */
const SUMMARY_LENGTH = 60

function summary(data: unknown): string {
  const text = JSON.stringify(data)
  return text.length > SUMMARY_LENGTH ? `${text.slice(0, SUMMARY_LENGTH - 1)}…` : text
}

function selection(types: Selection): string {
  if (types === null) return "-"
  if (types === "*") return "*"
  return types.length === 0 ? "-" : types.join(",")
}

/** A machine id shortened, with its name where this peer knows one. */
function machine(machineId: string, names: Record<string, string>): string {
  const name = names[machineId]
  return `${machineId.slice(0, 12)}${name ? ` (${name})` : ""}`
}

/** Indented JSON in which a tag (`{ "$text": "oat" }`, `{ "$counter": 3 }`) and a short list of plain values stay on one line. */
export function taggedJSON(value: unknown, indentation = ""): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value)
  const inner = `${indentation}  `
  if (Array.isArray(value)) {
    const inline = `[${value.map(item => JSON.stringify(item)).join(", ")}]`
    if (value.every(item => item === null || typeof item !== "object") && inline.length <= SUMMARY_LENGTH) return inline
    return `[\n${value.map(item => inner + taggedJSON(item, inner)).join(",\n")}\n${indentation}]`
  }
  const entries = Object.entries(value)
  if (entries.length === 0) return "{}"
  const [only] = entries
  if (entries.length === 1 && only![0].startsWith("$") && (only![1] === null || typeof only![1] !== "object"))
    return `{ ${JSON.stringify(only![0])}: ${JSON.stringify(only![1])} }`
  return `{\n${entries.map(([key, item]) => `${inner}${JSON.stringify(key)}: ${taggedJSON(item, inner)}`).join(",\n")}\n${indentation}}`
}
