/**
 * Automerge actor ids for Cairn: the machine id (32 hex digits) followed by
 * 16 random hex digits chosen each time a database opens. Every change then
 * names its machine without a single extra operation, and two sessions of
 * one machine never reuse an (actor, sequence number) pair even if one
 * crashed after sending changes it had not yet saved.
 */
export const MACHINE_ID_LENGTH = 32

const HEX = /^[0-9a-f]+$/

/** The machine that made a change, from the change's actor id. */
export function machineIdOfActor(actor: string): string {
  return actor.slice(0, MACHINE_ID_LENGTH)
}

/** A fresh actor id for one session of a machine. */
export function newSessionActor(machineId: string): string {
  if (machineId.length !== MACHINE_ID_LENGTH || !HEX.test(machineId)) {
    throw new TypeError(`a machine id is ${MACHINE_ID_LENGTH} lowercase hex digits, got ${JSON.stringify(machineId)}`)
  }
  return machineId + toHex(crypto.getRandomValues(new Uint8Array(8)))
}

export function toHex(bytes: Uint8Array): string {
  let out = ""
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0")
  return out
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !HEX.test(hex)) throw new TypeError("not a hex string")
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}
