/**
 * Who may use the dashboard. It can read and change every document with no
 * login, so by default it answers only this machine: the request must come
 * from a loopback address, name a host that is `localhost` or an IP address
 * (a page on another site that rebinds its DNS name to 127.0.0.1 is turned
 * away), and a write must come from the dashboard's own origin.
 */
import type { IncomingMessage } from "node:http"
import { isIP } from "node:net"

/** Why the request is refused, or undefined if it may go on. */
export function refusal(request: IncomingMessage, options: { allowRemote: boolean }): string | undefined {
  const remote = request.socket.remoteAddress ?? ""
  if (!options.allowRemote && !isLoopback(remote)) {
    return `the dashboard answers only this machine (request from ${remote || "an unknown address"})`
  }
  const host = request.headers.host
  if (!host) return "the request has no Host header"
  const hostname = hostnameOf(host)
  if (hostname === undefined || !(hostname === "localhost" || isIP(hostname) !== 0)) {
    return `unexpected Host ${JSON.stringify(host)}: open the dashboard as http://localhost:PORT/ or by IP address`
  }
  const origin = request.headers.origin
  if (request.method !== "GET" && request.method !== "HEAD" && origin !== undefined) {
    let originHost: string | undefined
    try {
      originHost = new URL(origin).host
    } catch {
      originHost = undefined
    }
    if (originHost !== host) return `a change from another origin (${origin}) is refused`
  }
  return undefined
}

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.")
}

function hostnameOf(host: string): string | undefined {
  try {
    const { hostname } = new URL(`http://${host}`)
    return hostname.startsWith("[") ? hostname.slice(1, -1) : hostname
  } catch {
    return undefined
  }
}
