/**
 * The local socket's wire: JSON lines over `<dir>/cairn.sock`, many requests
 * on one connection, answered by id, in any order.
 *
 *   request   {"id": 1, "method": "get", "params": {"id": "..."}}
 *   answer    {"id": 1, "ok": true, "result": ...}  or  {"id": 1, "ok": false, "error": {"name", "message", ...}}
 *   event     {"stream": 3, "event": ...}            (subscribe, liveQuery, watch: the request's id names its stream)
 *
 * Automerge bytes travel as base64. Errors keep their class name and fields,
 * so the client throws the same ValidationError or NotFoundError the peer's
 * database threw.
 */
import * as core from "@cairn/core"
import { CairnError } from "@cairn/core"

export const SOCKET_NAME = "cairn.sock"

/** The longest request line the peer reads (characters); a longer one is answered with an error and the connection closed. */
export const MAX_REQUEST_CHARS = 16 * 1024 * 1024

/** The longest answer line a client reads: the peer is trusted to be sane, but a client must not grow without end either. */
export const MAX_ANSWER_CHARS = 512 * 1024 * 1024

/** The socket or what came over it is not what the local protocol expects: the message says what was wrong. */
export class LocalPeerError extends CairnError {}

export interface Request {
  id: number | string
  method: string
  params: Record<string, unknown>
}

export type Answer =
  | { id: number | string | null; ok: true; result: unknown }
  | { id: number | string | null; ok: false; error: WireError }
  | { stream: number | string; event: unknown }

export interface WireError {
  name: string
  message: string
  [field: string]: unknown
}

/** An error as JSON: its class name, message, and its own plain fields (a ValidationError's path, a NotFoundError's id). */
export function encodeError(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) }
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) {
    if (value === null || ["string", "number", "boolean"].includes(typeof value) || Array.isArray(value)) fields[key] = value
  }
  return { ...fields, name: error.name, message: error.message }
}

/** Error classes a peer may answer with, by name: core's, and this protocol's. */
const ERROR_CLASSES: Record<string, new (...args: never[]) => Error> = { LocalPeerError }
for (const [name, value] of Object.entries(core))
  if (typeof value === "function" && value.prototype instanceof Error) ERROR_CLASSES[name] = value as never

/** The error an answer carries, as an instance of its class where it is one of core's (so `instanceof ValidationError` holds). */
export function decodeError(wire: WireError): Error {
  const Class = ERROR_CLASSES[wire.name] ?? Error
  const error = Object.create(Class.prototype) as Error
  Object.assign(error, wire)
  Object.defineProperty(error, "stack", { value: `${wire.name}: ${wire.message}\n    (answered by the peer holding the data directory)` })
  return error
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")
}

export function fromBase64(text: unknown, what: string): Uint8Array {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new LocalPeerError(`${what} must be base64 text`)
  return new Uint8Array(Buffer.from(text, "base64"))
}

/**
 * Split a stream of text into lines, at most `maxChars` each. `onLine` gets
 * every whole line; `onTooLong` is called once if a line grows past the
 * limit, after which nothing more is read (the framing is lost).
 */
export function lineReader(maxChars: number, onLine: (line: string) => void, onTooLong: () => void): (chunk: string) => void {
  let buffer = ""
  let broken = false
  return chunk => {
    if (broken) return
    // Only the new text is searched for a newline: searching the whole buffer on every chunk of a long line was quadratic.
    let from = buffer.length
    buffer += chunk
    let newline: number
    while ((newline = buffer.indexOf("\n", from)) >= 0) {
      if (newline > maxChars) break
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      from = 0
      if (line.trim() !== "") onLine(line)
    }
    if (buffer.length > maxChars) {
      broken = true
      buffer = ""
      onTooLong()
    }
  }
}
