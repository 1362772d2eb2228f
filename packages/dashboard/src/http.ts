/**
 * Small HTTP helpers for the dashboard: JSON answers, errors with a status,
 * and request bodies read with a size limit.
 */
import type { IncomingMessage, ServerResponse } from "node:http"

/** A failure to answer with `status` and `{ error: message }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = "HttpError"
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body)
  response.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(json),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  })
  response.end(json)
}

/**
 * Read a JSON request body of at most `limit` bytes. Only
 * `application/json` is taken: a browser cannot send that cross-site
 * without a CORS preflight, which this server never grants.
 */
export async function readJson(request: IncomingMessage, limit: number): Promise<unknown> {
  const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
  if (type !== "application/json")
    throw new HttpError(415, `send the body as JSON with "Content-Type: application/json" (got ${type ? JSON.stringify(type) : "none"})`)
  const declared = Number(request.headers["content-length"] ?? NaN)
  if (declared > limit) throw new HttpError(413, `request body is ${declared} bytes; the limit is ${limit}`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw new HttpError(413, `request body is over the limit of ${limit} bytes`)
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString("utf8")
  if (text.trim() === "") throw new HttpError(400, "request body is empty; send a JSON object")
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`)
  }
}

/** A plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
}

/** A whole-number query parameter from `min` to `max`, `fallback` when absent; a 400 naming it otherwise. */
export function parseWhole(name: string, raw: string | null, min: number, max: number, fallback: number): number {
  if (raw === null || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max)
    throw new HttpError(400, `"${name}" must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`)
  return value
}
