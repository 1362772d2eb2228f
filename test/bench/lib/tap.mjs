// Bytes on the wire, counted at the socket: every benchmark connection goes
// through test/helpers/WireTap.ts, a loopback TCP proxy that counts both
// directions the same way for Cairn and plain automerge-repo (WebSocket
// framing and the HTTP upgrade included).
import { register } from "node:module"

register("./ts-hooks.mjs", import.meta.url)
const { WireTap } = await import("../../helpers/WireTap.ts")

/** Start a tap in front of a server on 127.0.0.1:`port`. */
export function startTap(port) {
  return WireTap.start(port)
}

/** Total bytes through a tap, both directions. */
export function tapBytes(tap) {
  const { toServer, toClient } = tap.bytes()
  return { toServer, toClient, total: toServer + toClient }
}

/**
 * Wait until nothing has gone through the tap for `quietMs` (at most
 * `capMs`); returns when the last byte moved, as a performance.now() time.
 */
export async function whenQuiet(tap, { quietMs = 300, capMs = 30_000 } = {}) {
  const start = performance.now()
  let last = tapBytes(tap).total
  let lastChange = performance.now()
  for (;;) {
    await new Promise(resolve => setTimeout(resolve, 50))
    const now = performance.now()
    const total = tapBytes(tap).total
    if (total !== last) {
      last = total
      lastChange = now
    }
    if (now - lastChange >= quietMs) return { lastChange, capped: false }
    if (now - start >= capMs) return { lastChange, capped: true }
  }
}
