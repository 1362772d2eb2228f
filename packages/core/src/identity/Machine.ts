/**
 * A machine: one user × device × app. Its id is derived from its ed25519
 * public key (the first 16 bytes of SHA-256 of the raw key, as hex), so an id
 * cannot be claimed without the key: authentication proves the key, and the
 * key proves the id. Uses WebCrypto, which Node 20 and current browsers both
 * have, so the same code runs everywhere.
 */
import { MACHINE_ID_LENGTH, fromHex, toHex } from "./actor.js"

/** What the database needs from a machine identity. */
export interface MachineIdentity {
  /** 32 lowercase hex digits; stable for the life of the machine. */
  readonly machineId: string
  /** The raw 32-byte ed25519 public key, as hex. */
  readonly publicKey: string
  /** A human name for the machine, if one was given. */
  readonly name?: string
  /** Sign bytes with the machine's private key (ed25519). */
  sign(message: Uint8Array): Promise<Uint8Array>
}

/** The stored form of an identity, for runtimes that keep it as a file. */
export interface MachineIdentityJSON {
  machineId: string
  publicKey: string
  /** PKCS#8 private key, as hex. */
  privateKey: string
  name?: string
}

const ED25519 = { name: "Ed25519" } as const

/** A machine identity backed by a WebCrypto key pair. */
export class Machine implements MachineIdentity {
  private constructor(
    readonly machineId: string,
    readonly publicKey: string,
    private readonly privateKey: CryptoKey,
    readonly name: string | undefined,
  ) {}

  /** Make a new machine with a fresh key pair. The private key is extractable only if asked (to save it as a file). */
  static async generate(options: { name?: string; extractable?: boolean } = {}): Promise<Machine> {
    const pair = (await crypto.subtle.generateKey(ED25519, options.extractable ?? false, ["sign", "verify"])) as CryptoKeyPair
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey))
    return new Machine(await machineIdFromPublicKey(raw), toHex(raw), pair.privateKey, options.name)
  }

  /** Rebuild a machine from a CryptoKeyPair kept elsewhere (the browser keeps non-extractable keys in IndexedDB). */
  static async fromKeyPair(pair: CryptoKeyPair, name?: string): Promise<Machine> {
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey))
    return new Machine(await machineIdFromPublicKey(raw), toHex(raw), pair.privateKey, name)
  }

  /** Load a machine from its stored JSON form, checking that the id matches the key. */
  static async fromJSON(json: MachineIdentityJSON): Promise<Machine> {
    const privateKey = await crypto.subtle.importKey("pkcs8", fromHex(json.privateKey) as BufferSource, ED25519, true, ["sign"])
    const expected = await machineIdFromPublicKey(fromHex(json.publicKey))
    if (expected !== json.machineId) throw new Error(`machine identity is damaged: id ${json.machineId} does not belong to its public key`)
    // The id proves the public key, not that we hold its private key: a swapped key would sign as nobody.
    const probe = crypto.getRandomValues(new Uint8Array(32))
    const signature = new Uint8Array(await crypto.subtle.sign(ED25519, privateKey, probe as BufferSource))
    if (!(await verifySignature(json.publicKey, probe, signature))) {
      throw new Error(`machine identity is damaged: its private key does not match the public key of machine ${json.machineId}`)
    }
    return new Machine(json.machineId, json.publicKey, privateKey, json.name)
  }

  /** The stored form (only for an identity generated with `extractable: true`). */
  async toJSON(): Promise<MachineIdentityJSON> {
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", this.privateKey))
    return { machineId: this.machineId, publicKey: this.publicKey, privateKey: toHex(pkcs8), ...(this.name ? { name: this.name } : {}) }
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(await crypto.subtle.sign(ED25519, this.privateKey, message as BufferSource))
  }

  /** A copy with another human name. */
  withName(name: string | undefined): Machine {
    return new Machine(this.machineId, this.publicKey, this.privateKey, name)
  }
}

/** The machine id that belongs to a raw ed25519 public key. */
export async function machineIdFromPublicKey(raw: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw as BufferSource))
  return toHex(digest).slice(0, MACHINE_ID_LENGTH)
}

/** Check an ed25519 signature made by the holder of `publicKey` (raw, hex). */
export async function verifySignature(publicKey: string, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey("raw", fromHex(publicKey) as BufferSource, ED25519, false, ["verify"])
    return await crypto.subtle.verify(ED25519, key, signature as BufferSource, message as BufferSource)
  } catch {
    return false
  }
}
