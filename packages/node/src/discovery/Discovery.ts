/**
 * Finding peers on the local network: DNS-SD over multicast DNS (service
 * `_cairn._tcp`), through bonjour-service, which answers queries, probes for
 * its name and says goodbye on stop. The advert carries the machine id, a
 * fingerprint of its public key, an optional name and the ports it listens
 * on: never a type name or a document id. Whether a machine found is trusted
 * is this peer's trust list's answer for that id *and* that key; whoever
 * uses the list (see `connectNearby`) connects only to those.
 *
 * Machines are asked for every `intervalMs` by a fresh browser, so each round
 * hears every machine that is still there; one not heard for three rounds is
 * dropped (a process killed without a goodbye), one that says goodbye at once.
 */
import { createHash } from "node:crypto"
import { createRequire } from "node:module"
import type { Bonjour, Browser, Service } from "bonjour-service"
import { fromHex } from "@cairn/core"

/** The DNS-SD service type: `_cairn._tcp`. */
export const SERVICE_TYPE = "cairn"
/** Machines listed at most: adverts beyond are ignored (a flood of them cannot take the peer's memory). */
const MAX_NEARBY = 256
/** Rounds a machine may go unheard before it is dropped. */
const MISSED_ROUNDS = 3

/** The ports a machine listens on, by transport. */
export interface AdvertisedPorts {
  ws?: number
  wss?: number
  tcp?: number
  tcps?: number
}

const TRANSPORTS = ["ws", "wss", "tcp", "tcps"] as const

export interface NearbyMachine {
  /** The name it gives itself, or its service instance name. */
  name: string
  machineId: string
  /** Fingerprint of the public key it advertises (see keyFingerprint). */
  fingerprint: string
  /** The address its advert came from. */
  address: string
  ports: AdvertisedPorts
  /** True when this peer trusts this machine id with a key of this fingerprint. */
  trusted: boolean
  /** When it was last heard (ms). */
  lastSeen: number
}

export interface DiscoveryOptions {
  machineId: string
  publicKey: string
  name?: string
  /** Ports to advertise; absent, this peer only looks. */
  advertise?: AdvertisedPorts
  /** True when this peer trusts `machineId` with a key of this fingerprint. */
  trusts(machineId: string, fingerprint: string): boolean
  /** How often to ask who is there, in ms (default 5,000). */
  intervalMs?: number
  /** Send and listen on the interface with this IPv4 address only (default: every interface). */
  interface?: string
  log?: (message: string) => void
}

type Listener = (machine: NearbyMachine) => void

/**
 * bonjour-service (CommonJS, with multicast-dns and its DNS codec) is loaded
 * by the first Discovery, not by every process that imports @cairn/node: a
 * peer that never looks for machines nearby does not pay its module loading
 * at start-up (a reconnect is timed from the process start).
 */
function loadBonjour(): typeof Bonjour {
  return (createRequire(import.meta.url)("bonjour-service") as typeof import("bonjour-service")).Bonjour
}

/** The fingerprint of an ed25519 public key (hex): the first 16 bytes of its SHA-256, in hex. */
export function keyFingerprint(publicKeyHex: string): string {
  return createHash("sha256").update(fromHex(publicKeyHex)).digest("hex").slice(0, 32)
}

export class Discovery {
  readonly #options: DiscoveryOptions
  readonly #bonjour: Bonjour
  readonly #found = new Map<string, NearbyMachine>()
  readonly #listeners = { up: new Set<Listener>(), down: new Set<Listener>() }
  #browser: Browser | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #service: Service | undefined

  constructor(options: DiscoveryOptions) {
    this.#options = options
    const log = options.log ?? (() => {})
    // bonjour-service throws from its socket's error by default: a network that goes away must not end the peer.
    // Its first argument goes to multicast-dns (whose options include `interface`), though typed as a service's.
    const mdnsOptions = (options.interface ? { interface: options.interface } : {}) as ConstructorParameters<typeof Bonjour>[0]
    this.#bonjour = new (loadBonjour())(mdnsOptions, (error: Error) => log(`discovery: ${error.message}`))
  }

  /** Advertise (when asked to) and start looking. */
  start(): this {
    const { advertise, machineId, publicKey, name } = this.#options
    if (advertise && TRANSPORTS.some(t => advertise[t])) {
      const instance = `cairn-${machineId.slice(0, 16)}`
      const txt: Record<string, string> = { v: "1", id: machineId, fp: keyFingerprint(publicKey) }
      if (name) txt.n = name.slice(0, 63)
      for (const transport of TRANSPORTS) if (advertise[transport]) txt[transport] = String(advertise[transport])
      const port = advertise.ws ?? advertise.wss ?? advertise.tcp ?? advertise.tcps!
      // A host name of its own: machines sharing a host name (containers, namespaces) must not answer for each other.
      this.#service = this.#bonjour.publish({ name: instance, type: SERVICE_TYPE, port, host: `${instance}.local`, txt, disableIPv6: true })
    }
    this.#round()
    this.#timer = setInterval(() => this.#round(), this.#options.intervalMs ?? 5000)
    this.#timer.unref?.()
    return this
  }

  /** True when this peer is advertised (others can find and dial it). */
  get advertising(): boolean {
    return this.#service !== undefined
  }

  /** The machines found and still there. */
  nearby(): NearbyMachine[] {
    return [...this.#found.values()].map(machine => ({ ...machine, ports: { ...machine.ports } }))
  }

  /** A machine found (or changed: new address, ports, or trust); returns the function that stops listening. */
  on(event: "up" | "down", listener: Listener): () => void {
    this.#listeners[event].add(listener)
    return () => this.#listeners[event].delete(listener)
  }

  /** Say goodbye (others drop this machine at once) and stop looking. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#browser?.stop()
    this.#browser = undefined
    if (this.#service) await new Promise<void>(resolve => this.#bonjour.unpublishAll(() => resolve()))
    this.#service = undefined
    await new Promise<void>(resolve => this.#bonjour.destroy(() => resolve()))
  }

  #round(): void {
    this.#browser?.stop()
    const browser = this.#bonjour.find({ type: SERVICE_TYPE })
    browser.on("up", service => this.#heard(service))
    browser.on("srv-update", service => this.#heard(service))
    browser.on("txt-update", service => this.#heard(service))
    browser.on("down", service => this.#gone(service.fqdn))
    this.#browser = browser
    const silentFor = MISSED_ROUNDS * (this.#options.intervalMs ?? 5000)
    for (const [fqdn, machine] of this.#found) if (Date.now() - machine.lastSeen > silentFor) this.#gone(fqdn)
  }

  #heard(service: Service): void {
    const machine = parseAdvert(service, this.#options.trusts)
    if (!machine || machine.machineId === this.#options.machineId) return
    const before = this.#found.get(service.fqdn)
    if (!before && this.#found.size >= MAX_NEARBY) return
    this.#found.set(service.fqdn, machine)
    const changed =
      !before ||
      before.address !== machine.address ||
      before.trusted !== machine.trusted ||
      before.fingerprint !== machine.fingerprint ||
      TRANSPORTS.some(t => before.ports[t] !== machine.ports[t])
    if (changed) for (const listener of this.#listeners.up) listener(machine)
  }

  #gone(fqdn: string): void {
    const machine = this.#found.get(fqdn)
    if (!machine) return
    this.#found.delete(fqdn)
    for (const listener of this.#listeners.down) listener(machine)
  }
}

const MACHINE_ID = /^[0-9a-f]{32}$/
const FINGERPRINT = /^[0-9a-f]{32}$/

/** A machine from its advert, or undefined for one that is not a well-formed Cairn advert (ignored). */
export function parseAdvert(service: Service, trusts: DiscoveryOptions["trusts"]): NearbyMachine | undefined {
  const txt = (service.txt ?? {}) as Record<string, unknown>
  const address = service.referer?.address
  if (txt.v !== "1" || typeof txt.id !== "string" || !MACHINE_ID.test(txt.id)) return undefined
  if (typeof txt.fp !== "string" || !FINGERPRINT.test(txt.fp) || typeof address !== "string") return undefined
  const ports: AdvertisedPorts = {}
  for (const transport of TRANSPORTS) {
    const port = Number(txt[transport])
    if (txt[transport] !== undefined && Number.isInteger(port) && port > 0 && port < 65536) ports[transport] = port
  }
  return {
    name: typeof txt.n === "string" && txt.n ? txt.n : service.name,
    machineId: txt.id,
    fingerprint: txt.fp,
    address,
    ports,
    trusted: trusts(txt.id, txt.fp),
    lastSeen: Date.now(),
  }
}

/** The URL to reach a machine found, by the first transport this peer can dial. */
export function nearbyUrl(machine: NearbyMachine, dialable: readonly (keyof AdvertisedPorts)[] = TRANSPORTS): string | undefined {
  const host = machine.address.includes(":") ? `[${machine.address}]` : machine.address
  for (const transport of dialable) if (machine.ports[transport]) return `${transport}://${host}:${machine.ports[transport]}`
  return undefined
}
