/**
 * Server-Sent Events to every open dashboard page: one `event:` per
 * message, and a comment line every `keepAliveMs` so proxies and the
 * browser keep an idle stream open.
 */
import type { IncomingMessage, ServerResponse } from "node:http"

export class EventStream {
  readonly #clients = new Set<ServerResponse>()
  #keepAlive: ReturnType<typeof setInterval> | undefined

  constructor(private readonly keepAliveMs: number) {}

  get size(): number {
    return this.#clients.size
  }

  /** Answer an EventSource request and keep it open until the page goes away or `close()`. */
  open(request: IncomingMessage, response: ServerResponse, hello: unknown): void {
    response.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    })
    response.write(`retry: 2000\n`)
    response.write(frame("hello", hello))
    this.#clients.add(response)
    request.socket.setKeepAlive(true)
    const drop = () => {
      this.#clients.delete(response)
      if (this.#clients.size === 0) this.#stopKeepAlive()
    }
    request.on("close", drop)
    response.on("error", drop)
    this.#keepAlive ??= setInterval(() => this.#write(`: keep-alive ${Date.now()}\n\n`), this.keepAliveMs)
    this.#keepAlive.unref()
  }

  send(event: string, data: unknown): void {
    if (this.#clients.size) this.#write(frame(event, data))
  }

  /** End every stream (before the HTTP server closes, which would otherwise wait for them). */
  close(): void {
    this.#stopKeepAlive()
    for (const response of this.#clients) response.end()
    this.#clients.clear()
  }

  #write(text: string): void {
    for (const response of this.#clients) response.write(text)
  }

  #stopKeepAlive(): void {
    clearInterval(this.#keepAlive)
    this.#keepAlive = undefined
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}
