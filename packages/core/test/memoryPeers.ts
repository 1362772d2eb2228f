/**
 * Peers joined over in-process sockets, for tests of what a runtime gets from
 * `Peer.serve` and `Peer.dial`: a server transport on one peer and a dial
 * from others, and a trust list made in place.
 */
import type { AttachOptions, Machine, Peer, TrustedGrants, TrustLookup } from "../src/index.js"
import { CairnClientAdapter } from "../src/network/CairnClientAdapter.js"
import { CairnServerAdapter } from "../src/network/CairnServerAdapter.js"
import { MemorySocket } from "../src/network/MemorySocket.js"

/** A server on `server`, and a function that dials it from another peer over a fresh socket pair. */
export function serve(server: Peer, options?: AttachOptions) {
  const attached = server.serve(hooks => new CairnServerAdapter(hooks), options)
  const dial = (client: Peer, clientOptions?: AttachOptions) =>
    client.dial(
      hooks =>
        new CairnClientAdapter({
          url: "memory:server",
          createSocket: () => {
            const { client: socket, server: accepted } = MemorySocket.pair()
            void attached.transport.acceptSocket(accepted)
            return socket
          },
          ...hooks,
        }),
      clientOptions,
    )
  return { attached, dial }
}

/** A trust list holding these machines with these grants. */
export function trusting(...machines: { machine: Machine; read: TrustedGrants["read"]; write: TrustedGrants["write"] }[]): TrustLookup {
  const byKey = new Map(machines.map(({ machine, read, write }) => [machine.publicKey, { publicKey: machine.publicKey, read, write }]))
  return { get: key => byKey.get(key), seen: () => {} }
}
