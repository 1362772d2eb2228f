/**
 * Who may connect to this peer and what each connection may do, decided
 * once per connection at its handshake: the server's side (the client's
 * hello, its proof, the trust list, the connections one machine may hold)
 * and the client's (what it says in its hello, how it answers a challenge,
 * which servers it syncs with). The proofs themselves are in handshake.ts.
 */
import type { AuthExchange } from "../network/AuthExchange.js"
import type { RemotePeer } from "../network/CairnNetworkAdapter.js"
import type { HelloInfo } from "../network/frames.js"
import type { MachineIdentity } from "../identity/Machine.js"
import type { Grants } from "../replication/Replicator.js"
import { PROTOCOL_VERSION, type ReplicationInfo, type TypeSelection } from "../replication/protocol.js"
import { checkIdentity, clientAnswer, newNonce, serverAuthenticate, type Prover } from "./handshake.js"

/**
 * How peers prove who they are.
 * - `open`: no authentication; every peer may read and write everything (local development).
 * - `trust`: machines prove their ed25519 key; only machines in the trust list get in, with their grants.
 * - `psk`: every machine that knows the shared secret gets in, with every grant (a household's devices).
 */
export type AuthMode = { mode: "open" } | { mode: "trust" } | { mode: "psk"; secret: string }

/** A trusted machine, as far as admission needs it. */
export interface TrustedGrants {
  readonly publicKey: string
  /** Types it may read (receive from us). */
  readonly read: TypeSelection
  /** Types it may write (we accept its changes to). */
  readonly write: TypeSelection
}

/** The machines this peer trusts, by public key (the Node peer's trust list implements it). */
export interface TrustLookup {
  /** The trusted machine with this public key (hex), if any. */
  get(publicKey: string): TrustedGrants | undefined
  /** That machine just connected (a trust list records when it last did). */
  seen(publicKey: string): void
}

export interface AdmissionOptions {
  /** This peer's machine: its key proves this side. */
  readonly machine: MachineIdentity
  readonly auth: AuthMode
  /** Required by `trust` mode; in `psk` mode a machine listed here gets its grants instead of every grant. */
  readonly trust?: TrustLookup
  /** A client syncs only with a server that proves it holds this public key (hex). */
  readonly serverKey?: string
  /** Open connections one machine may have to this server. Default 8. */
  readonly connectionsPerMachine?: number
}

/** What one admitted connection may do; a server adapter keeps it as the connection's `session`. */
export interface Admitted {
  readonly machineId: string
  readonly grants: Grants
  /** The key it proved it holds (none when the server lets anyone in unauthenticated). */
  readonly publicKey?: string
}

export type Decision = { ok: true; grants: Grants; publicKey?: string } | { ok: false; reason: string }

/** One client connection's side of the handshake (see `Admission.client`), for the client adapter's options. */
export interface ClientAdmission {
  /** The hello's info: this peer's replication info, its public key and a fresh nonce. */
  info(local: ReplicationInfo): HelloInfo
  /** Answers the server's challenge; throws to refuse the server. */
  answerAuth(message: unknown): Promise<unknown>
  /** A reason to refuse the welcome of the server at `url`, if any. */
  checkWelcome(url: string): string | undefined
  /** What the server we reached may do here, once welcomed. */
  grants(): Grants
}

export const ALL_GRANTS: Grants = { read: "*", write: "*" }

/** What a peer's hello or welcome must contain to be understood. */
export function replicationInfoOf(info: unknown): ReplicationInfo | undefined {
  const i = info as Partial<ReplicationInfo> | undefined
  if (!i || i.protocol !== PROTOCOL_VERSION || typeof i.machineId !== "string") return undefined
  if (i.wants !== "*" && !(Array.isArray(i.wants) && i.wants.every(t => typeof t === "string"))) return undefined
  return i as ReplicationInfo
}

const NO_ONE: TrustLookup = { get: () => undefined, seen: () => {} }

export class Admission {
  readonly #machine: MachineIdentity
  readonly #auth: AuthMode
  readonly #trust: TrustLookup
  readonly #serverKey: string | undefined
  readonly #connectionsPerMachine: number

  constructor(options: AdmissionOptions) {
    this.#machine = options.machine
    this.#auth = options.auth
    this.#trust = options.trust ?? NO_ONE
    this.#serverKey = options.serverKey
    this.#connectionsPerMachine = options.connectionsPerMachine ?? 8
  }

  /** This machine's public key, which a welcome carries. */
  get publicKey(): string {
    return this.#machine.publicKey
  }

  /**
   * The server's decision on a client whose hello carried usable
   * replication info (`info`, with the hello's other fields): `peers` are the server's open connections (for the
   * per-machine limit); `exchange` runs the challenge and response.
   */
  async admit(peerId: string, info: ReplicationInfo, exchange: AuthExchange, peers: readonly RemotePeer[]): Promise<Decision> {
    const connections = peers.filter(peer => (peer.session as Admitted | undefined)?.machineId === info.machineId && peer.peerId !== peerId)
    if (connections.length >= this.#connectionsPerMachine)
      return { ok: false, reason: `machine ${info.machineId} already has ${connections.length} connections here` }
    if (this.#auth.mode === "open") return { ok: true, grants: ALL_GRANTS }
    const hello = info as ReplicationInfo & { publicKey?: unknown; nonce?: unknown }
    const problem = await checkIdentity(info.machineId, hello.publicKey, peerId)
    if (problem) return { ok: false, reason: `authentication failed: ${problem}` }
    const publicKey = hello.publicKey as string
    const trusted = this.#trust.get(publicKey)
    if (this.#auth.mode === "trust" && !trusted) {
      return {
        ok: false,
        reason: `machine ${info.machineId} is not trusted here; on the server run: cairn trust ${publicKey} --read TYPES --write TYPES`,
      }
    }
    if (typeof hello.nonce !== "string") return { ok: false, reason: "authentication failed: no nonce in the hello" }
    const reason = await serverAuthenticate(this.#prover(), { publicKey, nonce: hello.nonce }, exchange)
    if (reason) return { ok: false, reason: `authentication failed: ${reason}` }
    this.#trust.seen(publicKey)
    return this.#grantsFor(info.machineId, publicKey)
  }

  /**
   * The decision the trust list gives now for a connection admitted earlier: a connection keeps the grants it was
   * admitted with, so when the list changes (a machine removed, its grants narrowed) the server asks this for
   * every open connection and closes those whose answer differs (see Attachment.recheckAdmissions).
   */
  recheck(session: Admitted): Decision {
    if (this.#auth.mode === "open" || session.publicKey === undefined) return { ok: true, grants: ALL_GRANTS }
    return this.#grantsFor(session.machineId, session.publicKey)
  }

  #grantsFor(machineId: string, publicKey: string): Decision {
    const trusted = this.#trust.get(publicKey)
    if (this.#auth.mode === "trust" && !trusted)
      return {
        ok: false,
        reason: `machine ${machineId} is not trusted here; on the server run: cairn trust ${publicKey} --read TYPES --write TYPES`,
      }
    if (!trusted) return { ok: true, grants: ALL_GRANTS, publicKey }
    if (mayDoNothing(trusted)) {
      return {
        ok: false,
        reason: `machine ${machineId} is trusted here but may read and write nothing; on the server run: cairn trust ${publicKey} --read TYPES --write TYPES`,
      }
    }
    return { ok: true, grants: { read: trusted.read, write: trusted.write }, publicKey }
  }

  /** The client's side for one adapter: each connection attempt gets a fresh nonce. */
  client(): ClientAdmission {
    const trustMode = this.#auth.mode === "trust"
    let nonce = newNonce()
    let serverKey: string | undefined
    return {
      info: local => {
        nonce = newNonce()
        return { ...local, publicKey: this.#machine.publicKey, nonce }
      },
      answerAuth: message =>
        clientAnswer(this.#prover(), { publicKey: this.#machine.publicKey, nonce }, message, (_, publicKey) => {
          serverKey = publicKey
          if (this.#serverKey !== undefined && this.#serverKey !== publicKey) return false
          return !trustMode || this.#trust.get(publicKey) !== undefined
        }),
      // A server in open mode asks for no proof, so we cannot know whom we reached: a peer that syncs only with trusted machines does not go on.
      checkWelcome: url => {
        if (!trustMode) return undefined
        const trusted = serverKey ? this.#trust.get(serverKey) : undefined
        if (!trusted) return `${url} did not prove its identity; this peer only syncs with trusted machines`
        if (mayDoNothing(trusted)) return `${url} is trusted here but may read and write nothing`
        return undefined
      },
      grants: () => {
        if (!trustMode) return ALL_GRANTS
        const trusted = this.#trust.get(serverKey!)!
        this.#trust.seen(trusted.publicKey)
        return { read: trusted.read, write: trusted.write }
      },
    }
  }

  #prover(): Prover {
    return this.#auth.mode === "psk"
      ? { kind: "psk", machine: this.#machine, secret: this.#auth.secret }
      : { kind: "key", machine: this.#machine }
  }
}

function mayDoNothing(trusted: TrustedGrants): boolean {
  return isEmpty(trusted.read) && isEmpty(trusted.write)
}

function isEmpty(selection: TypeSelection): boolean {
  return selection !== "*" && selection.length === 0
}
