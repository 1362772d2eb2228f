/**
 * The server's event stream (/api/events). EventSource reconnects by
 * itself; every (re)connect says `hello`, so the page reloads what it shows
 * and misses nothing that changed while it was away.
 */
import type { PresenceView } from "./api.js"

export type LiveState = "connecting" | "live" | "reconnecting"

export interface LiveHandlers {
  hello(): void
  change(change: { id: string; type: string; origin: string; deletedAt: number | null; purged: boolean }): void
  quarantine(update: { id: string; type: string; state: "quarantined" | "released" | "dropped"; reason?: string }): void
  resync(): void
  peers(update: unknown): void
  presence(presence: PresenceView): void
  state(state: LiveState): void
}

export function connectLive(handlers: LiveHandlers): EventSource {
  const source = new EventSource("/api/events")
  const on = (event: string, handle: (data: any) => void) =>
    source.addEventListener(event, message => handle(JSON.parse((message as MessageEvent<string>).data)))
  on("hello", () => {
    handlers.state("live")
    handlers.hello()
  })
  on("change", handlers.change)
  on("quarantine", handlers.quarantine)
  on("resync", handlers.resync)
  on("peers", handlers.peers)
  on("presence", handlers.presence)
  source.addEventListener("error", () => handlers.state("reconnecting"))
  return source
}
