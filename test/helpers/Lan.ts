/**
 * A local network of its own for a test: one network namespace per host,
 * each joined by a veth pair to a bridge in a hub namespace (multicast
 * snooping off, so mDNS reaches every host). Nothing is attached to the
 * machine's own network, so what the hosts send (multicast included) stays
 * among them. Needs root and iproute2; `Lan.available()` says whether this
 * machine has them, and CI (which runs as root with iproute2) must.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { promisify } from "node:util"

const run = promisify(execFile)
const SUBNET = "10.231.7"

export class Lan {
  private constructor(
    readonly hosts: string[],
    private readonly hub: string,
  ) {}

  /** Root and `ip` (iproute2): what making namespaces takes. */
  static available(): boolean {
    return process.getuid?.() === 0 && ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].some(path => existsSync(path))
  }

  /** `count` hosts on one segment, at 10.231.7.1, .2, … */
  static async create(count: number): Promise<Lan> {
    const tag = randomBytes(3).toString("hex")
    const hub = `cairn-${tag}-hub`
    const hosts = Array.from({ length: count }, (_, i) => `cairn-${tag}-h${i}`)
    const lan = new Lan(hosts, hub)
    try {
      await ip("netns", "add", hub)
      await ip("-n", hub, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
      await ip("-n", hub, "link", "set", "br0", "up")
      for (const [i, host] of hosts.entries()) {
        await ip("netns", "add", host)
        await ip("-n", hub, "link", "add", `p${i}`, "type", "veth", "peer", "name", "eth0", "netns", host)
        await ip("-n", hub, "link", "set", `p${i}`, "master", "br0", "up")
        await ip("-n", host, "addr", "add", `${lan.address(i)}/24`, "dev", "eth0")
        await ip("-n", host, "link", "set", "eth0", "up")
        await ip("-n", host, "link", "set", "lo", "up")
        // No default route here: multicast needs one of its own to leave by eth0.
        await ip("-n", host, "route", "add", "224.0.0.0/4", "dev", "eth0")
      }
    } catch (error) {
      await lan.remove()
      throw error
    }
    return lan
  }

  /** Host `i`'s address. */
  address(i: number): string {
    return `${SUBNET}.${i + 1}`
  }

  /** Start a process in host `i`'s namespace. */
  spawn(i: number, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return spawn("ip", ["netns", "exec", this.hosts[i]!, command, ...args], options)
  }

  /** Run a process in host `i`'s namespace to its end. */
  async exec(i: number, command: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run("ip", ["netns", "exec", this.hosts[i]!, command, ...args], { timeout: 60_000 })
  }

  /** Remove every namespace (and with them their links). */
  async remove(): Promise<void> {
    for (const name of [...this.hosts, this.hub]) await ip("netns", "del", name).catch(() => {})
  }
}

async function ip(...args: string[]): Promise<void> {
  await run("ip", args, { timeout: 10_000 })
}
