import { connect as connectTcp, isIP } from "node:net"
import { connect as connectTls } from "node:tls"
import { CairnClientAdapter, DEFAULT_MAX_FRAME_BYTES, type CairnClientAdapterOptions, type SocketLike } from "@cairn/core/network"
import { TcpSocket } from "./TcpSocket.js"

/** Where a `tcp://` or `tcps://` URL points. */
export interface TcpAddress {
  readonly host: string
  readonly port: number
  /** `tcps://`: TLS, with the server's certificate checked. */
  readonly secure: boolean
}

/** Read a `tcp://HOST:PORT` or `tcps://HOST:PORT` URL; throws a TypeError that says what is wrong with it. */
export function parseTcpUrl(url: string): TcpAddress {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(`not a URL: ${url} (expected tcp://HOST:PORT or tcps://HOST:PORT)`)
  }
  if (parsed.protocol !== "tcp:" && parsed.protocol !== "tcps:") {
    throw new TypeError(`not a TCP URL: ${url} (expected tcp://HOST:PORT or tcps://HOST:PORT)`)
  }
  const port = Number(parsed.port)
  if (!parsed.port || !Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`${url} names no port (tcp://HOST:PORT)`)
  if ((parsed.pathname && parsed.pathname !== "/") || parsed.search) throw new TypeError(`${url}: a TCP URL has no path or query`)
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"), port, secure: parsed.protocol === "tcps:" }
}

export interface TcpClientAdapterOptions extends Omit<CairnClientAdapterOptions, "createSocket"> {
  /** Extra certificate authorities to trust for tcps:// (PEM), e.g. a self-signed server's certificate. */
  readonly ca?: string | Buffer
  /** A frame must arrive whole within this long of its first byte (see TcpSocket). Default 30,000. */
  readonly frameTimeoutMs?: number
}

/**
 * A {@link CairnClientAdapter} that dials a `tcp://` or `tcps://` URL: the
 * same handshake, reconnection with backoff and limits as over WebSocket,
 * over length-prefixed frames (see TcpSocket). Throws a TypeError for a URL
 * it cannot dial.
 */
export function createTcpClientAdapter(options: TcpClientAdapterOptions): CairnClientAdapter {
  const { ca, frameTimeoutMs, ...rest } = options
  const { host, port, secure } = parseTcpUrl(options.url)
  const socketOptions = {
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    ...(frameTimeoutMs !== undefined ? { frameTimeoutMs } : {}),
  }
  // Certificates are verified (tcps://); `ca` adds an authority to trust, it never turns checking off.
  const dial = () =>
    secure ? connectTls({ host, port, ...(isIP(host) ? {} : { servername: host }), ...(ca ? { ca } : {}) }) : connectTcp({ host, port })
  return new CairnClientAdapter({ ...rest, createSocket: (): SocketLike => new TcpSocket(dial(), socketOptions) })
}
