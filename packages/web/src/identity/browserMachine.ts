/**
 * The browser's machine identity: an ed25519 key pair made with WebCrypto on
 * first start and kept in IndexedDB (database `cairn-identity`, one record
 * per Cairn database name), so every tab and every later visit of the app is
 * the same machine.
 *
 * The private key is made non-extractable and stored as a CryptoKey, which
 * IndexedDB keeps by structured clone: page script can sign with it but can
 * never read its bytes. A browser that cannot store a CryptoKey gets an
 * extractable key saved as PKCS#8 instead, re-imported as non-extractable
 * on every load (said in `BrowserMachine.keyStorage`).
 */
import { Machine } from "@cairn/core"
import { openStore, readValue, writeValue } from "../helpers/idb.js"

export const IDENTITY_DATABASE = "cairn-identity"
const STORE = "machines"
const ED25519 = { name: "Ed25519" } as const

type StoredIdentity =
  | { version: 1; keys: CryptoKeyPair; name?: string; createdAt: number }
  | { version: 1; pkcs8: ArrayBuffer; publicKey: ArrayBuffer; name?: string; createdAt: number }

export interface BrowserMachine {
  machine: Machine
  /** `crypto-key`: a non-extractable CryptoKey in IndexedDB; `pkcs8`: the key's bytes in IndexedDB (this browser cannot store a CryptoKey). */
  keyStorage: "crypto-key" | "pkcs8"
}

/**
 * The machine of the Cairn database `name`, made on first call. Two tabs
 * that start at once get the same machine: the first makes it under a Web
 * Lock while the other waits.
 */
export async function loadBrowserMachine(name: string, machineName?: string): Promise<BrowserMachine> {
  return navigator.locks.request(`cairn-identity:${name}`, async () => {
    const db = await openStore(IDENTITY_DATABASE, STORE)
    try {
      let stored = await readValue<StoredIdentity>(db, STORE, name)
      if (!stored) stored = await create(db, name, machineName)
      else if (machineName !== undefined && machineName !== stored.name) {
        stored = { ...stored, name: machineName }
        await writeValue(db, STORE, name, stored)
      }
      if ("keys" in stored) return { machine: await Machine.fromKeyPair(stored.keys, stored.name), keyStorage: "crypto-key" }
      const keys: CryptoKeyPair = {
        privateKey: await crypto.subtle.importKey("pkcs8", stored.pkcs8, ED25519, false, ["sign"]),
        publicKey: await crypto.subtle.importKey("raw", stored.publicKey, ED25519, true, ["verify"]),
      }
      return { machine: await Machine.fromKeyPair(keys, stored.name), keyStorage: "pkcs8" }
    } finally {
      db.close()
    }
  })
}

async function create(db: IDBDatabase, name: string, machineName: string | undefined): Promise<StoredIdentity> {
  const base = { version: 1 as const, createdAt: Date.now(), ...(machineName !== undefined ? { name: machineName } : {}) }
  const keys = await generate(false)
  try {
    const stored: StoredIdentity = { ...base, keys }
    await writeValue(db, STORE, name, stored)
    return stored
  } catch (error) {
    if ((error as DOMException)?.name !== "DataCloneError") throw error
  }
  const extractable = await generate(true)
  const stored: StoredIdentity = {
    ...base,
    pkcs8: await crypto.subtle.exportKey("pkcs8", extractable.privateKey),
    publicKey: await crypto.subtle.exportKey("raw", extractable.publicKey),
  }
  await writeValue(db, STORE, name, stored)
  return stored
}

async function generate(extractable: boolean): Promise<CryptoKeyPair> {
  try {
    return (await crypto.subtle.generateKey(ED25519, extractable, ["sign", "verify"])) as CryptoKeyPair
  } catch (error) {
    throw new Error(
      `this browser cannot make an Ed25519 key with WebCrypto, which a Cairn machine identity needs (Chrome 137+, Firefox 129+, Safari 17+): ${(error as Error)?.message ?? error}`,
    )
  }
}
