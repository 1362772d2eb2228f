/**
 * Admission's decisions, mode by mode, with a trust list in memory: the
 * server's side of each handshake is run against the client's side of
 * another machine, as the two adapters would run them over a connection.
 */
import { describe, expect, it } from "vitest"
import {
  Admission,
  Machine,
  PROTOCOL_VERSION,
  type AuthMode,
  type ClientAdmission,
  type ReplicationInfo,
  type TrustedGrants,
  type TrustLookup,
} from "../src/index.js"
import type { AuthExchange } from "../src/network/AuthExchange.js"
import type { RemotePeer } from "../src/network/CairnNetworkAdapter.js"

class MemoryTrust implements TrustLookup {
  readonly machines = new Map<string, TrustedGrants>()
  readonly seenKeys: string[] = []
  trust(machine: Machine, read: TrustedGrants["read"], write: TrustedGrants["write"]): void {
    this.machines.set(machine.publicKey, { publicKey: machine.publicKey, read, write })
  }
  get(publicKey: string) {
    return this.machines.get(publicKey)
  }
  seen(publicKey: string) {
    this.seenKeys.push(publicKey)
  }
}

function localInfo(machine: Machine): ReplicationInfo {
  return { protocol: PROTOCOL_VERSION, machineId: machine.machineId, wants: "*" }
}

/** The server's exchange, answered by the client's side at once. */
function answeredBy(client: ClientAdmission): AuthExchange & { rounds: number } {
  let reply: Promise<unknown> = Promise.reject(new Error("nothing was sent"))
  reply.catch(() => {})
  const exchange = {
    rounds: 0,
    send(message: unknown) {
      exchange.rounds++
      reply = client.answerAuth(message)
    },
    receive: () => reply,
  }
  return exchange
}

async function setup(auth: AuthMode, clientAuth: AuthMode = auth) {
  const [serverMachine, clientMachine] = [await Machine.generate({ name: "server" }), await Machine.generate({ name: "client" })]
  const trust = new MemoryTrust()
  const clientTrust = new MemoryTrust()
  const server = new Admission({ machine: serverMachine, auth, trust, connectionsPerMachine: 2 })
  const clientAdmission = new Admission({ machine: clientMachine, auth: clientAuth, trust: clientTrust })
  /** Run one handshake: the client's hello, then the server's decision. */
  const handshake = async (peers: RemotePeer[] = []) => {
    const client = clientAdmission.client()
    const hello = client.info(localInfo(clientMachine)) as unknown as ReplicationInfo
    const exchange = answeredBy(client)
    const decision = await server.admit(`${clientMachine.machineId}-1`, hello, exchange, peers)
    return { decision, exchange, client }
  }
  return { serverMachine, clientMachine, trust, clientTrust, handshake }
}

describe("Admission", () => {
  it("open: admits every machine with every grant, without a challenge", async () => {
    const { handshake } = await setup({ mode: "open" })
    const { decision, exchange } = await handshake()
    expect(decision).toEqual({ ok: true, grants: { read: "*", write: "*" } })
    expect(exchange.rounds).toBe(0)
  })

  it("refuses a machine past its connections here, in any mode", async () => {
    const { handshake, clientMachine } = await setup({ mode: "open" })
    const connection = (n: number) =>
      ({ peerId: `${clientMachine.machineId}-other${n}`, session: { machineId: clientMachine.machineId } }) as unknown as RemotePeer
    expect((await handshake([connection(1)])).decision.ok).toBe(true)
    expect((await handshake([connection(1), connection(2)])).decision).toEqual({
      ok: false,
      reason: `machine ${clientMachine.machineId} already has 2 connections here`,
    })
  })

  it("trust: refuses a machine that is not in the trust list, saying how to trust it", async () => {
    const { handshake, clientMachine } = await setup({ mode: "trust" })
    const { decision, exchange } = await handshake()
    expect(decision).toEqual({
      ok: false,
      reason: `machine ${clientMachine.machineId} is not trusted here; on the server run: cairn trust ${clientMachine.publicKey} --read TYPES --write TYPES`,
    })
    expect(exchange.rounds).toBe(0)
  })

  it("trust: a trusted machine proves its key and gets its grants, and is noted as seen", async () => {
    const { handshake, trust, clientTrust, clientMachine, serverMachine } = await setup({ mode: "trust" })
    trust.trust(clientMachine, ["task"], [])
    clientTrust.trust(serverMachine, "*", "*")
    const { decision, exchange, client } = await handshake()
    expect(decision).toEqual({ ok: true, grants: { read: ["task"], write: [] }, publicKey: clientMachine.publicKey })
    expect(exchange.rounds).toBe(1)
    expect(trust.seenKeys).toEqual([clientMachine.publicKey])
    expect(client.checkWelcome("ws://server")).toBeUndefined()
    expect(client.grants()).toEqual({ read: "*", write: "*" })
  })

  it("trust: refuses a trusted machine that may read and write nothing", async () => {
    const { handshake, trust, clientTrust, clientMachine, serverMachine } = await setup({ mode: "trust" })
    trust.trust(clientMachine, [], [])
    clientTrust.trust(serverMachine, "*", "*")
    expect((await handshake()).decision).toEqual({
      ok: false,
      reason: `machine ${clientMachine.machineId} is trusted here but may read and write nothing; on the server run: cairn trust ${clientMachine.publicKey} --read TYPES --write TYPES`,
    })
  })

  it("trust: refuses a hello whose machine id is not its key's", async () => {
    const { serverMachine, trust } = await setup({ mode: "trust" })
    const impostor = await Machine.generate()
    trust.trust(impostor, "*", "*")
    const server = new Admission({ machine: serverMachine, auth: { mode: "trust" }, trust })
    const hello = {
      ...localInfo(impostor),
      machineId: serverMachine.machineId,
      publicKey: impostor.publicKey,
      nonce: "00",
    } as ReplicationInfo
    const decision = await server.admit(
      `${serverMachine.machineId}-1`,
      hello,
      answeredBy(new Admission({ machine: impostor, auth: { mode: "open" } }).client()),
      [],
    )
    expect(decision).toEqual({ ok: false, reason: "authentication failed: the machine id does not belong to the public key" })
  })

  it("psk: admits a machine that knows the secret with every grant, or a trusted one with its grants", async () => {
    const { handshake, trust, clientMachine } = await setup({ mode: "psk", secret: "household" })
    const { publicKey } = clientMachine
    expect((await handshake()).decision).toEqual({ ok: true, grants: { read: "*", write: "*" }, publicKey })
    trust.trust(clientMachine, ["note"], ["note"])
    expect((await handshake()).decision).toEqual({ ok: true, grants: { read: ["note"], write: ["note"] }, publicKey })
  })

  it("recheck: the trust list's answer now for a connection admitted earlier, as admit would give it", async () => {
    const { trust, clientMachine, serverMachine } = await setup({ mode: "trust" })
    const server = new Admission({ machine: serverMachine, auth: { mode: "trust" }, trust })
    const { machineId, publicKey } = clientMachine
    trust.trust(clientMachine, ["task"], [])
    const admitted = { machineId, publicKey, grants: { read: ["task"], write: [] } }
    expect(server.recheck(admitted)).toEqual({ ok: true, grants: admitted.grants, publicKey })
    trust.trust(clientMachine, [], [])
    expect(server.recheck(admitted)).toMatchObject({ ok: false, reason: expect.stringMatching(/may read and write nothing/) })
    trust.trust(clientMachine, ["note"], ["note"])
    expect(server.recheck(admitted)).toEqual({ ok: true, grants: { read: ["note"], write: ["note"] }, publicKey })
    const psk = new Admission({
      machine: serverMachine,
      auth: { mode: "psk", secret: "household" },
      trust: { get: () => undefined, seen() {} },
    })
    // Under a shared secret a machine the list does not name keeps every grant; in trust mode it is refused.
    expect(psk.recheck(admitted)).toEqual({ ok: true, grants: { read: "*", write: "*" }, publicKey })
    const open = new Admission({ machine: serverMachine, auth: { mode: "open" } })
    expect(open.recheck({ machineId, grants: { read: "*", write: "*" } })).toEqual({ ok: true, grants: { read: "*", write: "*" } })
  })

  it("psk: a client with another secret refuses the server, which cannot prove the secret either", async () => {
    const { handshake } = await setup({ mode: "psk", secret: "household" }, { mode: "psk", secret: "other" })
    await expect(handshake()).rejects.toThrow("the server does not know the pre-shared key")
  })

  it("a client in trust mode refuses a server that proved nothing, or one it trusts with nothing", async () => {
    const { handshake, trust, clientTrust, clientMachine, serverMachine } = await setup({ mode: "trust" })
    const unproven = new Admission({ machine: clientMachine, auth: { mode: "trust" }, trust: clientTrust }).client()
    expect(unproven.checkWelcome("ws://server")).toBe("ws://server did not prove its identity; this peer only syncs with trusted machines")
    trust.trust(clientMachine, "*", "*")
    clientTrust.trust(serverMachine, [], [])
    const { decision, client } = await handshake()
    expect(decision.ok).toBe(true)
    expect(client.checkWelcome("ws://server")).toBe("ws://server is trusted here but may read and write nothing")
  })

  it("a client pinned to a server key refuses a server that proves another", async () => {
    const { serverMachine, clientMachine } = await setup({ mode: "open" })
    const other = await Machine.generate()
    const client = new Admission({ machine: clientMachine, auth: { mode: "open" }, serverKey: other.publicKey }).client()
    const server = new Admission({ machine: serverMachine, auth: { mode: "psk", secret: "s" } })
    const hello = client.info(localInfo(clientMachine)) as unknown as ReplicationInfo
    await expect(server.admit(`${clientMachine.machineId}-1`, hello, answeredBy(client), [])).rejects.toThrow(
      `the server is machine ${serverMachine.machineId}, which this peer does not trust`,
    )
  })
})
