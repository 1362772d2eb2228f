/**
 * `cairn serve`: a long-running peer. It listens for peers over WebSocket
 * (and TCP with --tcp), serves the local process API on `<dir>/cairn.sock`,
 * connects to the peers given with --connect, and syncs through the folder
 * given with --folder.
 */
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import { DashboardServer } from "@cairn/dashboard"
import { NodePeer, transportOfUrl, type AdvertisedPorts, type AuthMode } from "@cairn/node"
import { parseTypeSelection } from "@cairn/node"
import { RemoteError, UsageError, errorLine, exitCodeOf } from "./errors.js"
import { commands, type Request } from "./commands.js"

export interface ServeOptions {
  host: string
  port: string
  tcp?: string
  types: string
  relay?: boolean
  open?: boolean
  insecure?: boolean
  psk?: string
  connect?: string[]
  tlsCert?: string
  tlsKey?: string
  name?: string
  /** Find peers on the local network, and be found when listening beyond loopback. */
  discover?: boolean
  /** How often discovery asks who is there, in ms. */
  discoverInterval?: string
  folder?: string
  /** A PostgreSQL URL: the relay's store, shared by every process given it (see NodePeer's `store`). */
  store?: string
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/

export async function serve(dir: string, options: ServeOptions): Promise<void> {
  const port = portOf("--port", options.port)
  const tcpPort = options.tcp === undefined ? undefined : portOf("--tcp", options.tcp)
  for (const url of options.connect ?? []) {
    try {
      transportOfUrl(url)
    } catch (error) {
      throw new UsageError(`--connect: ${(error as Error).message}`)
    }
  }
  if (options.open && !LOOPBACK.test(options.host) && !options.insecure) {
    throw new UsageError(
      `--open on ${options.host} would let anyone on the network read and write everything; add --insecure if you mean it`,
    )
  }
  if (!!options.tlsCert !== !!options.tlsKey) throw new UsageError("--tls-cert and --tls-key go together")
  let wants: ReturnType<typeof parseTypeSelection>
  try {
    wants = parseTypeSelection(options.types)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const auth: AuthMode = options.open ? { mode: "open" } : options.psk ? { mode: "psk", secret: options.psk } : { mode: "trust" }
  const peer = await NodePeer.open({
    dir,
    wants,
    relay: options.relay ?? false,
    auth,
    ...(options.store ? { store: options.store } : {}),
    ...(options.name ? { name: options.name } : {}),
    log: message => process.stderr.write(`cairn: ${message}\n`),
  })
  const tls = options.tlsCert ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey!) } : undefined
  // The dashboard shares the WebSocket's port (it finds its built page itself).
  const dashboard = new DashboardServer(peer)
  const http = tls ? createHttpsServer(tls, dashboard.handle) : createServer(dashboard.handle)
  let address: Awaited<ReturnType<typeof peer.listen>>
  let tcpAddress: Awaited<ReturnType<typeof peer.listenTcp>> | undefined
  let listeningOn = port
  try {
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject)
      http.listen(port, options.host, () => resolve())
    })
    address = await peer.listen({ host: options.host, port, server: http })
    if (tcpPort !== undefined) {
      listeningOn = tcpPort
      tcpAddress = await peer.listenTcp({ host: options.host, port: tcpPort, ...(tls ? { tls } : {}) })
    }
  } catch (error) {
    await peer.close()
    http.close()
    const code = (error as NodeJS.ErrnoException).code
    if (code === "EADDRINUSE") throw new Error(`port ${listeningOn} on ${options.host} is already in use`)
    if (code === "EACCES") throw new Error(`not allowed to listen on ${options.host}:${listeningOn}`)
    throw error
  }
  serveCommands(peer)
  const scheme = tls ? "wss" : "ws"
  const host = address.host.includes(":") ? `[${address.host}]` : address.host
  process.stdout.write(`listening on ${scheme}://${host}:${address.port}\n`)
  if (tcpAddress) process.stdout.write(`listening on ${tcpAddress.url}\n`)
  process.stdout.write(`dashboard on ${tls ? "https" : "http"}://${host}:${address.port}/\n`)
  if (auth.mode === "trust")
    process.stderr.write(
      `cairn: only trusted machines may connect (cairn trust PUBKEY ...); this machine's key: ${peer.db.machine.publicKey}\n`,
    )
  for (const url of options.connect ?? []) peer.connect(url)
  if (options.discover)
    startDiscovery(peer, options, {
      [tls ? "wss" : "ws"]: address.port,
      ...(tcpAddress ? { [tls ? "tcps" : "tcp"]: tcpAddress.port } : {}),
    })
  if (options.folder) {
    const folder = await peer.syncFolder(options.folder)
    folder.start()
    process.stdout.write(`syncing through folder ${folder.dir}\n`)
  }
  await new Promise<void>(resolve => {
    process.once("SIGINT", () => resolve())
    process.once("SIGTERM", () => resolve())
  })
  // The dashboard's open event streams would keep the HTTP server alive: close them first.
  dashboard.close()
  try {
    await peer.close()
  } finally {
    http.closeAllConnections()
    await new Promise<void>(resolve => http.close(() => resolve()))
  }
}

/**
 * Other `cairn` commands on this directory run here, sent over the peer's local socket (see @cairn/node's
 * local/): the `command` method, answered with the command's result, or its error line and exit code.
 */
function serveCommands(peer: NodePeer): void {
  peer.local?.handle("command", async params => {
    const request = params as unknown as Request
    const command = typeof request.command === "string" && Object.hasOwn(commands, request.command) ? commands[request.command] : undefined
    try {
      if (!command) throw new UsageError(`unknown command ${JSON.stringify(request.command)}`)
      if (!Array.isArray(request.args) || typeof request.options !== "object" || request.options === null)
        throw new UsageError("a command needs args (a list) and options (an object)")
      return await command(peer, { ...request, args: request.args.map(String) })
    } catch (error) {
      throw new RemoteError(errorLine(error).replace(/^cairn: /, ""), exitCodeOf(error))
    }
  })
}

/** `--discover`: look for peers on the local network, and advertise this one unless it listens on loopback only (then nobody could dial it). */
function startDiscovery(peer: NodePeer, options: ServeOptions, ports: AdvertisedPorts): void {
  const intervalMs = options.discoverInterval === undefined ? undefined : Number(options.discoverInterval)
  if (intervalMs !== undefined && !(Number.isInteger(intervalMs) && intervalMs >= 100))
    throw new UsageError(`--discover-interval must be a whole number of ms ≥ 100, got ${options.discoverInterval}`)
  const reachable = !LOOPBACK.test(options.host)
  peer.discover({
    ...(reachable ? { advertise: ports } : {}),
    ...(intervalMs ? { intervalMs } : {}),
    log: message => process.stderr.write(`cairn: ${message}\n`),
  })
  process.stderr.write(
    reachable
      ? `cairn: discovering peers on the local network, and advertised there (service _cairn._tcp); connects to trusted machines only\n`
      : `cairn: discovering peers on the local network; not advertised, since this peer listens on ${options.host} only (--host 0.0.0.0 or an address to be found)\n`,
  )
}

function portOf(flag: string, value: string): number {
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${flag} must be 0-65535, got ${value}`)
  return port
}
