/** Talk to a running `cairn serve` on the same data directory (see LocalServer). */
import { existsSync } from "node:fs"
import { connect } from "node:net"
import { join } from "node:path"
import { DataDirectory } from "@cairn/node"
import type { Request } from "./commands.js"
import { RemoteError } from "./errors.js"
import { SOCKET_NAME, type Answer } from "./LocalServer.js"

/** The socket of a live server holding `dir`, if there is one. */
export async function serverSocket(dir: string): Promise<string | undefined> {
  const path = join(dir, SOCKET_NAME)
  if (!existsSync(path)) return undefined
  const directory = await DataDirectory.open(dir)
  return (await directory.lockHolder()) ? path : undefined
}

/** True if a server accepts connections on the socket (false for one left behind by a server that died). */
export function answers(socketPath: string): Promise<boolean> {
  return new Promise(resolve => {
    const socket = connect(socketPath)
    socket.once("connect", () => {
      socket.end()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })
}

/** Send one request; resolves with the result, rejects with the server's error. Events (watch) go to `onEvent`. */
export function request(socketPath: string, body: Request, onEvent?: (event: unknown) => void, signal?: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath)
    signal?.addEventListener("abort", () => socket.end())
    let buffer = ""
    let answered = false
    socket.setEncoding("utf8")
    socket.on("connect", () => socket.write(JSON.stringify(body) + "\n"))
    socket.on("data", chunk => {
      buffer += chunk
      let newline: number
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const answer = JSON.parse(buffer.slice(0, newline)) as Answer
        buffer = buffer.slice(newline + 1)
        if ("event" in answer) onEvent?.(answer.event)
        else {
          answered = true
          if (answer.ok) resolve(answer.result)
          else reject(new RemoteError(answer.error.replace(/^cairn: /, ""), answer.exitCode))
        }
      }
    })
    socket.on("error", error => reject(new RemoteError(`cannot reach the server on this data directory: ${error.message}`, 1)))
    socket.on("close", () => {
      if (!answered && !onEvent) reject(new RemoteError("the server closed the connection without answering", 1))
      if (onEvent) resolve(undefined)
    })
  })
}
