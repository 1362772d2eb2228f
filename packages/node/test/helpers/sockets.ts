import { createServer } from "node:net"
import type { AddressInfo } from "node:net"

/** A port free on 127.0.0.1 right now, for a server that must stop and start again on the same port. */
export function freePort(): Promise<number> {
  const probe = createServer()
  return new Promise((resolve, reject) => {
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

/** Stop reading the given streams (a conformance subject's `stopReading`); the returned function reads them again. */
export function pauseAll(streams: Iterable<{ pause(): unknown; resume(): unknown }>): () => void {
  const paused = [...streams]
  for (const stream of paused) stream.pause()
  return () => {
    for (const stream of paused) stream.resume()
  }
}
