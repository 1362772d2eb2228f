/**
 * Mutual authentication of two machines on connect, by challenge and
 * response, inside the transport's handshake (before any document moves).
 *
 *   client hello   { publicKey, nonce: Nc }                      (in the hello info)
 *   server → auth  { t: "challenge", nonce: Ns, publicKey, proof }  proof = sign_server("server" | Nc | Ns | keys)
 *   client → auth  { t: "response", proof }                      proof = sign_client("client" | Nc | Ns | keys)
 *
 * Each side signs the other's fresh nonce, so a recorded handshake cannot be
 * replayed, and both public keys are in what is signed, so a proof cannot be
 * moved to another connection. The client checks the server's key against
 * the one it meant to reach; the server checks the client's against its
 * trust list. A machine id is derived from its key, so proving the key proves
 * the id, and a peer id must start with the machine id: a second connection
 * cannot take over a peer id without the key.
 *
 * With a pre-shared key (a household's devices), the proofs are HMAC-SHA-256
 * of the same transcript under the shared secret instead of signatures.
 */
import { fromHex, toHex } from "../identity/actor.js"
import { machineIdFromPublicKey, verifySignature, type MachineIdentity } from "../identity/Machine.js"

export interface AuthHello {
  publicKey: string
  nonce: string
}

export type AuthMessage =
  | { t: "challenge"; nonce: string; publicKey: string; machineId: string; proof: string }
  | { t: "response"; proof: string }

const encoder = new TextEncoder()

/** 32 random bytes as hex. */
export function newNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)))
}

function transcript(role: "server" | "client", clientNonce: string, serverNonce: string, clientKey: string, serverKey: string): Uint8Array {
  return encoder.encode(`cairn-auth-v1|${role}|${clientNonce}|${serverNonce}|${clientKey}|${serverKey}`)
}

/** How a side proves itself: with its machine key, or with a shared secret. */
export type Prover = { kind: "key"; machine: MachineIdentity } | { kind: "psk"; machine: MachineIdentity; secret: string }

async function prove(prover: Prover, message: Uint8Array): Promise<string> {
  if (prover.kind === "key") return toHex(await prover.machine.sign(message))
  return toHex(await hmac(prover.secret, message))
}

async function check(prover: Prover, publicKey: string, message: Uint8Array, proof: string): Promise<boolean> {
  let bytes: Uint8Array
  try {
    bytes = fromHex(proof)
  } catch {
    return false
  }
  if (prover.kind === "key") return verifySignature(publicKey, message, bytes)
  const expected = await hmac(prover.secret, message)
  return bytes.length === expected.length && bytes.every((b, i) => b === expected[i])
}

async function hmac(secret: string, message: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret) as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ])
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, message as BufferSource))
}

/** Check that a claimed machine id belongs to a public key, and that a peer id is bound to it. */
export async function checkIdentity(machineId: unknown, publicKey: unknown, peerId?: string): Promise<string | undefined> {
  if (typeof publicKey !== "string" || !/^[0-9a-f]{64}$/.test(publicKey)) return "no valid public key in the hello"
  if (typeof machineId !== "string" || machineId !== (await machineIdFromPublicKey(fromHex(publicKey))))
    return "the machine id does not belong to the public key"
  if (peerId !== undefined && !peerId.startsWith(machineId)) return "the peer id is not bound to the machine id"
  return undefined
}

/** The server's side: send a challenge, check the response. Returns a reason on failure. */
export async function serverAuthenticate(
  prover: Prover,
  hello: AuthHello,
  exchange: { send(message: unknown): void; receive(): Promise<unknown> },
): Promise<string | undefined> {
  const serverNonce = newNonce()
  const serverKey = prover.machine.publicKey
  exchange.send({
    t: "challenge",
    nonce: serverNonce,
    publicKey: serverKey,
    machineId: prover.machine.machineId,
    proof: await prove(prover, transcript("server", hello.nonce, serverNonce, hello.publicKey, serverKey)),
  } satisfies AuthMessage)
  const reply = (await exchange.receive()) as Partial<Extract<AuthMessage, { t: "response" }>>
  if (reply?.t !== "response" || typeof reply.proof !== "string") return "malformed authentication response"
  const ok = await check(prover, hello.publicKey, transcript("client", hello.nonce, serverNonce, hello.publicKey, serverKey), reply.proof)
  return ok ? undefined : prover.kind === "psk" ? "wrong pre-shared key" : "the client could not prove it holds its key"
}

/**
 * The client's side: check the server's challenge (that it holds the key of
 * the machine we meant to reach), then answer. Throws to refuse the server.
 */
export async function clientAnswer(
  prover: Prover,
  hello: AuthHello,
  message: unknown,
  acceptServer: (machineId: string, publicKey: string) => boolean,
): Promise<AuthMessage> {
  const challenge = message as Partial<Extract<AuthMessage, { t: "challenge" }>>
  if (
    challenge?.t !== "challenge" ||
    typeof challenge.nonce !== "string" ||
    typeof challenge.publicKey !== "string" ||
    typeof challenge.proof !== "string"
  ) {
    throw new Error("malformed authentication challenge")
  }
  const problem = await checkIdentity(challenge.machineId, challenge.publicKey)
  if (problem) throw new Error(`the server's identity is not valid: ${problem}`)
  if (!acceptServer(challenge.machineId!, challenge.publicKey))
    throw new Error(`the server is machine ${challenge.machineId}, which this peer does not trust`)
  const ok = await check(
    prover,
    challenge.publicKey,
    transcript("server", hello.nonce, challenge.nonce, hello.publicKey, challenge.publicKey),
    challenge.proof,
  )
  if (!ok)
    throw new Error(prover.kind === "psk" ? "the server does not know the pre-shared key" : "the server could not prove it holds its key")
  return {
    t: "response",
    proof: await prove(prover, transcript("client", hello.nonce, challenge.nonce, hello.publicKey, challenge.publicKey)),
  }
}
