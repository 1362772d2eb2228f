/**
 * The machines this peer trusts, and what each may read and write:
 * `<dir>/trust.json`, or a relay's PostgreSQL store (`TrustStore`).
 * Authentication proves a machine holds its key; this list decides whether
 * that machine is let in, and with which types.
 */
import { join } from "node:path"
import { CairnError, machineIdFromPublicKey, fromHex, isTypeName, type TrustLookup, type TypeSelection } from "@cairn/core"
import { readJSONFile, writeAtomic } from "./DataDirectory.js"

export interface TrustedMachine {
  publicKey: string
  machineId: string
  name?: string
  /** Types it may read (receive from us). */
  read: TypeSelection
  /** Types it may write (we accept its changes to). */
  write: TypeSelection
  addedAt: number
  /** When it last connected (ms), if ever. */
  lastSeen?: number
  /**
   * Set when it was removed (`untrust`): it is let in no more, and its changes that reach this peer through
   * another machine are refused (their vouches name it: see identity/vouch.ts in @cairn/core).
   */
  removedAt?: number
}

/** A trust command got something it cannot use (a malformed key, a bad type list). */
export class TrustError extends CairnError {}

/** Parse "T1,T2" or "*" into a type selection; throws TrustError naming a bad type. */
export function parseTypeSelection(text: string): TypeSelection {
  if (text.trim() === "*") return "*"
  const types = text
    .split(",")
    .map(t => t.trim())
    .filter(Boolean)
  for (const type of types) if (!isTypeName(type)) throw new TrustError(`invalid type name ${JSON.stringify(type)}`)
  return types
}

/** Where a trust list is kept: a file in the data directory, or a relay's shared store. */
export interface TrustStore {
  /** The saved list (empty if none was saved); throws TrustError if it is damaged. */
  load(): Promise<TrustedMachine[]>
  /** Replace the saved list, whole or not at all. */
  save(machines: TrustedMachine[]): Promise<void>
}

/** `<dir>/trust.json`, mode 0600. */
function trustFile(dir: string): TrustStore {
  const path = join(dir, "trust.json")
  return {
    load: () => readJSONFile(path, [], (json: { machines: TrustedMachine[] }) => json.machines, TrustError),
    save: machines => writeAtomic(path, JSON.stringify({ machines }, null, 2) + "\n", 0o600),
  }
}

/** Admission (in @cairn/core) looks machines up here. */
export class TrustList implements TrustLookup {
  #machines = new Map<string, TrustedMachine>()
  #saveTimer: ReturnType<typeof setTimeout> | undefined
  #updating: Promise<void> = Promise.resolve()
  /** Called after the list changed here or was read again (the network closes connections it no longer admits). */
  onChange: () => void = () => {}

  private constructor(private readonly store: TrustStore) {}

  /** The list in `<dir>/trust.json`, or in `store` when given. */
  static async open(dir: string, store: TrustStore = trustFile(dir)): Promise<TrustList> {
    const list = new TrustList(store)
    await list.reload()
    return list
  }

  /** Read the saved list again (a relay process does when another process of the relay changed it). */
  async reload(): Promise<void> {
    this.#machines = new Map((await this.store.load()).map(machine => [machine.publicKey, machine]))
    this.onChange()
  }

  /** Trust a machine by its public key (hex), with read and write grants. Replaces an earlier entry. */
  async trust(publicKey: string, grants: { name?: string; read: TypeSelection; write?: TypeSelection }): Promise<TrustedMachine> {
    const key = publicKey.trim().toLowerCase()
    if (!/^[0-9a-f]{64}$/.test(key))
      throw new TrustError(`a public key is 64 hex digits (see \`cairn whoami\` on that machine), got ${JSON.stringify(publicKey)}`)
    const machine: TrustedMachine = {
      publicKey: key,
      machineId: await machineIdFromPublicKey(fromHex(key)),
      ...(grants.name ? { name: grants.name } : {}),
      read: grants.read,
      write: grants.write ?? [],
      addedAt: Date.now(),
      ...(this.#machines.get(key)?.lastSeen ? { lastSeen: this.#machines.get(key)!.lastSeen! } : {}),
    }
    await this.#update(machines => machines.set(key, machine))
    return machine
  }

  /** Stop trusting a machine; returns false if it was not trusted. */
  async untrust(publicKeyOrMachineId: string): Promise<boolean> {
    await this.reload()
    const machine = this.find(publicKeyOrMachineId)
    if (!machine) return false
    // Kept, marked removed, with no grants: its later changes are refused however they come (see `removed`).
    await this.#update(machines =>
      machines.set(machine.publicKey, {
        publicKey: machine.publicKey,
        machineId: machine.machineId,
        ...(machine.name ? { name: machine.name } : {}),
        read: [],
        write: [],
        addedAt: machine.addedAt,
        removedAt: Date.now(),
      }),
    )
    return true
  }

  get(publicKey: string): TrustedMachine | undefined {
    const machine = this.#machines.get(publicKey)
    return machine?.removedAt === undefined ? machine : undefined
  }

  /** By public key or machine id. */
  find(key: string): TrustedMachine | undefined {
    return this.get(key) ?? this.list().find(m => m.machineId === key)
  }

  /** The machines trusted now (not those removed). */
  list(): TrustedMachine[] {
    return [...this.#machines.values()].filter(machine => machine.removedAt === undefined)
  }

  /** True for a machine removed with `untrust` (and not trusted again since). */
  removed(machineId: string): boolean {
    for (const machine of this.#machines.values()) if (machine.machineId === machineId) return machine.removedAt !== undefined
    return false
  }

  /** Note that a machine connected now (saved shortly after, not on every connect). */
  seen(publicKey: string): void {
    const machine = this.#machines.get(publicKey)
    if (!machine) return
    machine.lastSeen = Date.now()
    this.#saveTimer ??= setTimeout(() => {
      this.#saveTimer = undefined
      void this.save().catch(() => {})
    }, 1000)
  }

  async save(): Promise<void> {
    await this.#update(() => {})
  }

  /**
   * Change the saved list: read again first, so a change another process of a relay made to the shared list
   * (PgState) is kept, not overwritten with this process's older copy; the times machines were seen here stay.
   */
  #update(change: (machines: Map<string, TrustedMachine>) => void): Promise<void> {
    // One at a time: two at once wrote the same temporary file, and one failed to move it into place.
    const run = this.#updating.then(() => this.#updateNow(change))
    this.#updating = run.catch(() => {})
    return run
  }

  async #updateNow(change: (machines: Map<string, TrustedMachine>) => void): Promise<void> {
    const seen = new Map([...this.#machines.values()].filter(m => m.lastSeen).map(m => [m.publicKey, m.lastSeen!]))
    await this.reload()
    for (const [key, at] of seen) {
      const machine = this.#machines.get(key)
      if (machine && (machine.lastSeen ?? 0) < at) machine.lastSeen = at
    }
    change(this.#machines)
    await this.store.save([...this.#machines.values()])
    this.onChange()
  }

  async close(): Promise<void> {
    if (this.#saveTimer) {
      clearTimeout(this.#saveTimer)
      this.#saveTimer = undefined
      await this.save()
    }
  }
}
