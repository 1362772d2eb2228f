/**
 * What a peer does with the machines discovery finds: it dials each trusted
 * one (never any other), and stops dialing one that left. When both sides
 * advertise, only the one with the smaller machine id dials, so a pair ends
 * up with one connection, not two.
 */
import { keyFingerprint, nearbyUrl, type Discovery, type NearbyMachine } from "./Discovery.js"

/** The network as discovery uses it (PeerNetwork). */
export interface Dialer {
  connect(url: string): unknown
  disconnect(url: string): void
  clients(): { url: string; status: string }[]
}

/** The trust check discovery asks: the machine id is trusted, with a key of this fingerprint (an advert naming a trusted id with another key is not). */
export function trustsByFingerprint(find: (machineId: string) => { machineId: string; publicKey: string } | undefined) {
  return (machineId: string, fingerprint: string): boolean => {
    const trusted = find(machineId)
    return trusted !== undefined && trusted.machineId === machineId && keyFingerprint(trusted.publicKey) === fingerprint
  }
}

/** Dial trusted machines as `discovery` finds them; returns the function that stops (and hangs up what it dialed). */
export function connectNearby(discovery: Discovery, network: Dialer, selfId: string): () => void {
  // Machine id → the URL dialed for it (only connections discovery made: one the user asked for is never hung up here).
  const dialed = new Map<string, string>()
  const hangUp = (machineId: string) => {
    const url = dialed.get(machineId)
    if (url === undefined) return
    dialed.delete(machineId)
    network.disconnect(url)
  }
  const up = (machine: NearbyMachine) => {
    const url = nearbyUrl(machine)
    const dial = machine.trusted && url !== undefined && (!discovery.advertising || selfId < machine.machineId)
    if (dial && dialed.get(machine.machineId) === url) return
    hangUp(machine.machineId)
    if (!dial || network.clients().some(client => client.url === url)) return
    network.connect(url)
    dialed.set(machine.machineId, url)
  }
  const down = (machine: NearbyMachine) => {
    // Unheard is not unreachable: a connection that works is kept (multicast can be lost while TCP is fine).
    const url = dialed.get(machine.machineId)
    if (network.clients().some(client => client.url === url && client.status === "connected")) return
    hangUp(machine.machineId)
  }
  const stops = [discovery.on("up", up), discovery.on("down", down)]
  return () => {
    for (const stop of stops) stop()
    for (const machineId of [...dialed.keys()]) hangUp(machineId)
  }
}
