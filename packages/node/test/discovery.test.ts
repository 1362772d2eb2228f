/**
 * The parts of LAN discovery that need no network: reading an advert (a
 * malformed or hostile one is ignored), the trust check by key fingerprint,
 * and who dials whom. Discovery over real multicast, between hosts, is in
 * test/discovery.test.ts.
 */
import type { Service } from "bonjour-service"
import { describe, expect, it } from "vitest"
import { Machine } from "@cairn/core"
import { keyFingerprint, parseAdvert, type Discovery, type NearbyMachine } from "../src/discovery/Discovery.js"
import { connectNearby, trustsByFingerprint } from "../src/discovery/connectNearby.js"

const service = (txt: Record<string, unknown>, address: string | null = "10.0.0.2") =>
  ({ name: "cairn-x", fqdn: "cairn-x._cairn._tcp.local", txt, ...(address !== null ? { referer: { address } } : {}) }) as unknown as Service

describe("an advert", () => {
  it("is read into a machine with its ports, and the trust answer for its id and fingerprint", async () => {
    const machine = await Machine.generate({ name: "laptop" })
    const fp = keyFingerprint(machine.publicKey)
    const found = parseAdvert(service({ v: "1", id: machine.machineId, fp, n: "laptop", ws: "3030", tcp: "3031" }), () => true)
    expect(found).toMatchObject({ name: "laptop", machineId: machine.machineId, fingerprint: fp, address: "10.0.0.2", trusted: true })
    expect(found!.ports).toEqual({ ws: 3030, tcp: 3031 })
  })

  it("that is malformed is ignored, and bad ports are left out", () => {
    const id = "0123456789abcdef0123456789abcdef"
    const fp = "00112233445566778899aabbccddeeff"
    const all = () => true
    expect(parseAdvert(service({ v: "2", id, fp }), all)).toBeUndefined()
    expect(parseAdvert(service({ v: "1", id: "not-an-id", fp }), all)).toBeUndefined()
    expect(parseAdvert(service({ v: "1", id, fp: "short" }), all)).toBeUndefined()
    expect(parseAdvert(service({ v: "1", id, fp }, null), all)).toBeUndefined()
    expect(parseAdvert(service({}), all)).toBeUndefined()
    expect(parseAdvert(service({ v: "1", id, fp, ws: "99999", tcp: "-1", wss: "x", tcps: "443" }), all)!.ports).toEqual({ tcps: 443 })
  })
})

describe("trust by fingerprint", () => {
  it("trusts a machine id only with the key trusted for it: an advert naming a trusted id with another key is not trusted", async () => {
    const trusted = await Machine.generate()
    const impostor = await Machine.generate()
    const list = [{ machineId: trusted.machineId, publicKey: trusted.publicKey }]
    const trusts = trustsByFingerprint(id => list.find(m => m.machineId === id))
    expect(trusts(trusted.machineId, keyFingerprint(trusted.publicKey))).toBe(true)
    expect(trusts(trusted.machineId, keyFingerprint(impostor.publicKey))).toBe(false)
    expect(trusts(impostor.machineId, keyFingerprint(impostor.publicKey))).toBe(false)
  })
})

/** A discovery that a test drives by hand. */
function fakeDiscovery(advertising: boolean) {
  const listeners = { up: new Set<(m: NearbyMachine) => void>(), down: new Set<(m: NearbyMachine) => void>() }
  const discovery = {
    advertising,
    on: (event: "up" | "down", listener: (m: NearbyMachine) => void) => {
      listeners[event].add(listener)
      return () => listeners[event].delete(listener)
    },
  } as unknown as Discovery
  const emit = (event: "up" | "down", machine: NearbyMachine) => {
    for (const listener of listeners[event]) listener(machine)
  }
  return { discovery, emit }
}

function fakeNetwork() {
  const clients = new Map<string, string>()
  const log: string[] = []
  return {
    log,
    clients: () => [...clients].map(([url, status]) => ({ url, status })),
    connect: (url: string) => {
      log.push(`connect ${url}`)
      clients.set(url, "connecting")
    },
    disconnect: (url: string) => {
      log.push(`disconnect ${url}`)
      clients.delete(url)
    },
    setStatus: (url: string, status: string) => clients.set(url, status),
  }
}

const nearby = (machineId: string, over: Partial<NearbyMachine> = {}): NearbyMachine => ({
  name: machineId,
  machineId,
  fingerprint: "00".repeat(16),
  address: "10.0.0.9",
  ports: { ws: 4000 },
  trusted: true,
  lastSeen: Date.now(),
  ...over,
})

describe("who dials whom", () => {
  it("dials a trusted machine, never an untrusted one, and only once", () => {
    const { discovery, emit } = fakeDiscovery(false)
    const network = fakeNetwork()
    connectNearby(discovery, network, "m")
    emit("up", nearby("b", { trusted: false, address: "10.0.0.3" }))
    emit("up", nearby("a"))
    emit("up", nearby("a"))
    expect(network.log).toEqual(["connect ws://10.0.0.9:4000"])
  })

  it("when both advertise, only the smaller machine id dials", () => {
    const { discovery, emit } = fakeDiscovery(true)
    const network = fakeNetwork()
    connectNearby(discovery, network, "m")
    emit("up", nearby("a", { address: "10.0.0.1" }))
    emit("up", nearby("z", { address: "10.0.0.26" }))
    expect(network.log).toEqual(["connect ws://10.0.0.26:4000"])
  })

  it("follows a new address and a lost trust; keeps a working connection to a machine gone quiet, drops one that is not up", () => {
    const { discovery, emit } = fakeDiscovery(false)
    const network = fakeNetwork()
    const stop = connectNearby(discovery, network, "m")
    emit("up", nearby("a"))
    emit("up", nearby("a", { address: "10.0.0.10" }))
    emit("up", nearby("a", { address: "10.0.0.10", trusted: false }))
    emit("up", nearby("a", { address: "10.0.0.10" }))
    network.setStatus("ws://10.0.0.10:4000", "connected")
    emit("down", nearby("a", { address: "10.0.0.10" }))
    expect(network.clients()).toEqual([{ url: "ws://10.0.0.10:4000", status: "connected" }])
    network.setStatus("ws://10.0.0.10:4000", "connecting")
    emit("down", nearby("a", { address: "10.0.0.10" }))
    expect(network.log).toEqual([
      "connect ws://10.0.0.9:4000",
      "disconnect ws://10.0.0.9:4000",
      "connect ws://10.0.0.10:4000",
      "disconnect ws://10.0.0.10:4000",
      "connect ws://10.0.0.10:4000",
      "disconnect ws://10.0.0.10:4000",
    ])
    stop()
  })

  it("never hangs up a connection it did not make", () => {
    const { discovery, emit } = fakeDiscovery(false)
    const network = fakeNetwork()
    network.connect("ws://10.0.0.9:4000")
    network.log.length = 0
    const stop = connectNearby(discovery, network, "m")
    emit("up", nearby("a"))
    emit("down", nearby("a"))
    stop()
    expect(network.log).toEqual([])
  })
})
