import { CairnClientAdapter, DEFAULT_MAX_FRAME_BYTES, type CairnClientAdapterOptions, type SocketLike } from "@cairn/core/network"
import { WebSocket } from "ws"

/**
 * A {@link CairnClientAdapter} for Node, dialling with `ws` (Node 20 has no
 * global WebSocket). `ws` also enforces `maxFrameBytes` while receiving, so
 * an oversized frame is refused before it is buffered whole.
 */
export function createNodeClientAdapter(
  options: Omit<CairnClientAdapterOptions, "createSocket"> & { ca?: string | Buffer },
): CairnClientAdapter {
  const maxPayload = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  const { ca, ...rest } = options
  // Certificates are verified by default (wss://); `ca` adds an authority to trust, it never turns checking off.
  return new CairnClientAdapter({
    ...rest,
    createSocket: (url): SocketLike => new WebSocket(url, { maxPayload, ...(ca ? { ca } : {}) }),
  })
}
