/**
 * A relay's own records in PostgreSQL (`<schema>.state`, one JSON value per
 * name): its machine identity, its trust list and the types it knows. Every
 * process of one relay reads the same ones, so clients trust the relay once
 * whichever process they reach.
 */
import { Machine, typeFromJSON, type MachineIdentityJSON, type TypeDefinition, type TypeDefinitionJSON } from "@cairn/core"
import { TrustError, type TrustedMachine, type TrustStore } from "../../TrustList.js"
import { PgStoreError, type PgStore } from "./PgStore.js"

export class PgState {
  readonly #table: string

  constructor(readonly store: PgStore) {
    this.#table = store.table("state")
  }

  async #get<T>(name: string): Promise<T | undefined> {
    const { rows } = await this.store.query<{ value: T }>(`SELECT value FROM ${this.#table} WHERE name = $1`, [name])
    return rows[0]?.value
  }

  async #set(name: string, value: unknown): Promise<void> {
    await this.store.query(
      `INSERT INTO ${this.#table} (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
      [name, JSON.stringify(value)],
    )
  }

  /**
   * The relay's identity: the first process to ask creates it; one that asks
   * at the same moment finds the first one's (the insert does nothing when a
   * row exists, and every process then reads the row that won). `name`
   * renames the relay, for every process.
   */
  async machine(name?: string): Promise<Machine> {
    const candidate = await Machine.generate({ extractable: true, ...(name ? { name } : {}) })
    await this.store.query(`INSERT INTO ${this.#table} (name, value) VALUES ('machine', $1) ON CONFLICT (name) DO NOTHING`, [
      JSON.stringify(await candidate.toJSON()),
    ])
    const json = await this.#get<MachineIdentityJSON>("machine")
    let machine: Machine
    try {
      machine = await Machine.fromJSON(json!)
    } catch (error) {
      throw new PgStoreError(
        `the relay's identity in ${this.store.where} (${this.#table}, name 'machine') is damaged: ${(error as Error).message}`,
      )
    }
    if (name !== undefined && name !== machine.name) {
      machine = machine.withName(name)
      await this.#set("machine", await machine.toJSON())
    }
    return machine
  }

  async types(): Promise<TypeDefinition[]> {
    const list = (await this.#get<TypeDefinitionJSON[]>("types")) ?? []
    try {
      return list.map(json => typeFromJSON(json))
    } catch (error) {
      throw new PgStoreError(`the relay's types in ${this.store.where} are damaged: ${(error as Error).message}`)
    }
  }

  /** Store type definitions (replacing those of the same name), in one statement so two processes do not lose each other's. */
  async saveTypes(definitions: TypeDefinition<any>[]): Promise<void> {
    if (definitions.length === 0) return
    const byName = Object.fromEntries(definitions.map(definition => [definition.name, definition.toJSON()]))
    // Kept as a list (the directory's types.json format): merge by name inside the database.
    await this.store.query(
      `INSERT INTO ${this.#table} (name, value) VALUES ('types', $1::jsonb)
       ON CONFLICT (name) DO UPDATE SET value = (
         SELECT coalesce(jsonb_agg(t), '[]'::jsonb) FROM (
           SELECT t FROM jsonb_array_elements(${this.#table}.value) t WHERE NOT ($2::jsonb ? (t->>'name'))
           UNION ALL SELECT jsonb_array_elements(EXCLUDED.value)) AS merged(t))`,
      [JSON.stringify(Object.values(byName)), JSON.stringify(byName)],
    )
  }

  /** The trust list's seam (see TrustList). */
  trustStore(): TrustStore {
    return {
      load: async () => {
        const saved = await this.#get<{ machines?: unknown }>("trust")
        if (saved === undefined) return []
        if (!Array.isArray(saved.machines)) throw new TrustError(`the relay's trust list in ${this.store.where} is damaged`)
        return saved.machines as TrustedMachine[]
      },
      // Notified with the write, so the relay's other processes read the list again (PgFollower.onTrust).
      save: machines =>
        this.store.transaction(async client => {
          await client.query(
            `INSERT INTO ${this.#table} (name, value) VALUES ('trust', $1) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
            [JSON.stringify({ machines })],
          )
          await client.query(`NOTIFY ${this.store.channel}, 'trust'`)
        }),
    }
  }
}
