/**
 * One drawn case of replication.property.test.ts, run: peers opened as
 * drawn, its commands applied one after another, the model kept in step,
 * and the checks the property makes (see that file's header) at every
 * quiescence point, after every whenSynced and restart, and at the end.
 */
import * as A from "@automerge/automerge"
import { sameHeads, sortedHeads } from "../src/document/heads.js"
import {
  DeletedDocumentError,
  defineType,
  f,
  PurgedError,
  selects,
  type ControlMessage,
  type Grants,
  type TypeSelection,
} from "../src/index.js"
import { sleep } from "./helpers.js"
import { PURGE, ReplicationModel, type Holdings } from "./ReplicationModel.js"
import { Links, TestPeer, type TestPeerSpec } from "./ReplicationPeers.js"

/** Add every control message to the steps a failure prints. */
const WIRE = process.env.CAIRN_PROPERTY_WIRE === "1"

export const TYPES = ["task", "note", "log"] as const
export const definitions = TYPES.map(name => defineType(name, { fields: { title: f.string(), votes: f.counter() } }))

export type Command =
  | { kind: "create"; peer: number; type: string; title: string }
  | { kind: "title"; peer: number; doc: number; title: string }
  | { kind: "increment"; peer: number; doc: number; by: number }
  | { kind: "delete" | "restore" | "purge"; peer: number; doc: number }
  | { kind: "connect" | "disconnect"; a: number; b: number }
  | { kind: "grant"; from: number; to: number; grants: Grants }
  | { kind: "restart"; peer: number }
  | { kind: "quiesce" }
  | { kind: "pause"; ms: number }
  | { kind: "whenSynced"; peer: number }
  | { kind: "together"; doc: number; by: number }
  | { kind: "watch"; peer: number; doc: number }

export interface Setup {
  peers: TestPeerSpec[]
  /** Each link delivers its messages this many ms late (in order). */
  latencyMs: number
  /** grants[i][j]: what peer i lets peer j read and write. */
  grants: Grants[][]
  /**
   * Whether documents are watched (and so synced live by automerge-repo) or
   * purged in this run: not both, because automerge-repo 2.5.6 throws an
   * unhandled TypeError when a document is deleted (a purge) while its
   * share is being evaluated (see the it.fails in replication.property.test.ts).
   */
  live: boolean
}

/** A write to a document, as drawn or as one part of `together`. */
type Write = Extract<Command, { kind: "title" | "increment" | "delete" | "restore" | "purge" }>

/** What one named change did, for checking values against the changes a peer holds. */
type ChangeRecord =
  | { kind: "create"; title: string }
  | { kind: "title"; title: string }
  | { kind: "increment"; by: number }
  | { kind: "delete" | "restore" }

class Run {
  readonly problems: string[] = []
  readonly trace: string[] = []
  readonly peers: TestPeer[]
  readonly model: ReplicationModel
  readonly links: Links
  /** Every document created, in order: commands pick from those the acting peer holds. */
  readonly docs: { id: string; type: string }[] = []
  readonly changes = new Map<string, ChangeRecord>()
  readonly live: boolean
  #nextChange = 0

  constructor(setup: Setup) {
    this.model = new ReplicationModel(setup.peers, setup.grants)
    this.live = setup.live
    this.peers = setup.peers.map((spec, i) => new TestPeer(`p${i}${spec.relay ? "(relay)" : ""}`, spec, definitions, this.problems))
    this.links = new Links(
      (from, to) => this.model.grants[from]![to]!,
      setup.latencyMs,
      (from, to, grants, message) => this.#onWire(from, to, grants, message),
    )
  }

  get names(): string[] {
    return this.peers.map(p => p.name)
  }

  async start(setup: Setup): Promise<void> {
    for (const peer of this.peers) await peer.open()
    this.trace.push(
      `peers: ${setup.peers.map((p, i) => `${this.peers[i]!.name} wants ${show(p.wants)} in batches of ${p.batchSize}`).join("; ")}; links ${setup.latencyMs} ms late; ${setup.live ? "watches, no purges" : "purges, no watches"}`,
    )
    for (let i = 0; i < this.peers.length; i++) {
      this.trace.push(
        `  ${this.peers[i]!.name} grants ${setup.grants[i]!.map((g, j) =>
          i === j ? "" : `${this.peers[j]!.name} r=${show(g.read)} w=${show(g.write)}`,
        )
          .filter(Boolean)
          .join(", ")}`,
      )
    }
  }

  async step(command: Command): Promise<void> {
    const n = this.peers.length
    switch (command.kind) {
      case "create":
        return this.#create(command.peer % n, command.type, command.title)
      case "title":
      case "increment":
      case "delete":
      case "restore":
        return this.#write(command)
      case "purge":
        return this.live ? undefined : this.#write(command)
      case "connect": {
        const [a, b] = [command.a % n, command.b % n]
        if (a === b || this.links.has(a, b)) return
        this.trace.push(`connect ${this.names[a]} ${this.names[b]}`)
        this.links.connect(a, b, this.peers)
        this.model.link(a, b)
        return
      }
      case "disconnect": {
        const [a, b] = [command.a % n, command.b % n]
        if (!this.links.has(a, b)) return
        this.trace.push(`disconnect ${this.names[a]} ${this.names[b]}`)
        this.links.disconnect(a, b)
        this.model.unlink(a, b)
        return
      }
      case "grant": {
        const [from, to] = [command.from % n, command.to % n]
        if (from === to) return
        this.model.grants[from]![to] = command.grants
        const linked = this.links.has(from, to)
        this.trace.push(
          `${this.names[from]} now grants ${this.names[to]} r=${show(command.grants.read)} w=${show(command.grants.write)}${linked ? " (reconnect)" : ""}`,
        )
        if (!linked) return
        this.links.disconnect(from, to)
        this.model.unlink(from, to)
        this.links.connect(from, to, this.peers)
        this.model.link(from, to)
        return
      }
      case "restart":
        return this.#restart(command.peer % n)
      case "quiesce":
        this.trace.push("quiesce")
        return this.checkQuiescent()
      case "pause":
        this.trace.push(`pause ${command.ms} ms`)
        return sleep(command.ms)
      case "whenSynced":
        return this.#whenSynced(command.peer % n)
      case "watch": {
        // Subscribing (or no longer) to a document it holds: automerge-repo syncs it live with the peers that may have it.
        if (!this.live) return
        const peer = this.peers[command.peer % n]!
        const held = this.docs.filter(d => peer.db.catalog.get(d.id) && !peer.db.catalog.get(d.id)!.purged)
        const target = held[command.doc % Math.max(1, held.length)]
        if (target) this.trace.push(`${peer.name} ${peer.watch(target.id)} ${target.type} ${target.id.slice(0, 6)}`)
        return
      }
      case "together": {
        // Every peer that holds the document increments its counter at the same time (and one sets its title).
        const target = this.docs[command.doc % Math.max(1, this.docs.length)]
        if (!target) return
        const editors = this.peers.map((_, i) => i).filter(i => this.#writable(i, target.id))
        await Promise.all(
          editors.map((i, k) =>
            this.#write(
              k === 0 ? { kind: "title", peer: i, doc: 0, title: "t" } : { kind: "increment", peer: i, doc: 0, by: command.by },
              target,
            ),
          ),
        )
        return
      }
    }
  }

  async #create(index: number, type: string, title: string): Promise<void> {
    const peer = this.peers[index]!
    const name = this.#changeName()
    const data = peer.spec.relay ? { title, votes: { $counter: 0 } } : { title }
    const created = await peer.db.create(type, data, { message: name })
    this.docs.push({ id: created.id, type })
    this.changes.set(name, { kind: "create", title })
    this.model.created(index, created.id, type, name)
    this.trace.push(`${name}: ${peer.name} creates ${type} ${created.id.slice(0, 6)} title=${title}`)
  }

  #writable(index: number, id: string, deleted = false): boolean {
    const entry = this.peers[index]!.db.catalog.get(id)
    return !!entry && !entry.purged && (entry.deletedAt !== null) === deleted
  }

  async #write(command: Write, chosen?: { id: string; type: string }): Promise<void> {
    const index = command.peer % this.peers.length
    const peer = this.peers[index]!
    const held = this.docs.filter(d => this.#writable(index, d.id, command.kind === "restore" || command.kind === "purge"))
    const target = chosen ?? held[command.doc % Math.max(1, held.length)]
    if (!target) return
    const { db } = peer
    const name = command.kind === "purge" ? PURGE : this.#changeName()
    const what = `${peer.name} ${command.kind} ${target.type} ${target.id.slice(0, 6)}${command.kind === "title" ? ` ${command.title}` : command.kind === "increment" ? ` +${command.by}` : ""}`
    try {
      if (command.kind === "title") await db.change(target.type, target.id, draft => void (draft.title = command.title), { message: name })
      else if (command.kind === "increment")
        await db.change(target.type, target.id, draft => draft.votes.increment(command.by), { message: name })
      else if (command.kind === "delete") await db.delete(target.id, { message: name })
      else if (command.kind === "restore") await db.transaction(tx => tx.restore(target.id), { message: name })
      else await db.purge(target.id)
    } catch (error) {
      // A delete or purge from a peer may have arrived since the document was picked: the app is told, nothing is written.
      if (!(error instanceof DeletedDocumentError || error instanceof PurgedError)) throw error
      this.trace.push(`${what}: refused (${(error as Error).name})`)
      return
    }
    if (command.kind === "purge") {
      this.trace.push(what)
      this.model.made(index, target.id, [PURGE])
      return
    }
    this.changes.set(
      name,
      command.kind === "title"
        ? { kind: "title", title: command.title }
        : command.kind === "increment"
          ? { kind: "increment", by: command.by }
          : { kind: command.kind },
    )
    // What the new change depends on is held here too; a purge that arrived just now leaves only the change itself to record.
    const holds = await db.history(target.id).then(
      history => history.map(change => change.message ?? `(no message) ${change.hash}`),
      () => [name],
    )
    // A change that changed nothing (a title set to what it was) makes no Automerge change.
    this.trace.push(`${name}: ${what}${holds.includes(name) ? "" : " (no change)"}`)
    this.model.made(index, target.id, holds)
  }

  async #restart(index: number): Promise<void> {
    const peer = this.peers[index]!
    const linked = this.links.of(index, this.peers.length)
    this.trace.push(`restart ${peer.name}`)
    const before = new Map([...peer.db.catalog.entries()].map(entry => [entry.id, { heads: [...entry.heads], purged: !!entry.purged }]))
    for (const other of linked) this.links.disconnect(index, other)
    await peer.close()
    await peer.open()
    for (const [id, was] of before) {
      const entry = peer.db.catalog.get(id)
      if (!entry) this.problems.push(`${peer.name} lost ${id} across a restart`)
      else if (was.purged) {
        if (!entry.purged) this.problems.push(`${peer.name} forgot the purge of ${id} across a restart`)
      } else if (!entry.purged) {
        const doc = await peer.db.replica.store.read(id).catch(() => undefined)
        if (!doc || !A.hasHeads(doc, was.heads))
          this.problems.push(`${peer.name} lost changes to ${id} across a restart (had heads ${was.heads.join(",")})`)
      }
    }
    for (const other of linked) this.links.connect(index, other, this.peers)
  }

  /**
   * What a user of one peer relies on (the README's tour does): once its
   * whenSynced resolves, every peer it is linked to holds what it held
   * before, of the types that flow there.
   */
  async #whenSynced(index: number): Promise<void> {
    const peer = this.peers[index]!
    const linked = this.links.of(index, this.peers.length)
    if (linked.length === 0) return
    this.trace.push(`${peer.name} whenSynced`)
    const before = (await this.#holdings())[index]!
    await peer.replicator.whenSynced(undefined, 20_000).catch(() => this.problems.push(`${peer.name}: whenSynced timed out`))
    const holdings = await this.#holdings()
    for (const other of linked) {
      for (const [id, changes] of before) {
        const type = this.model.typeOf.get(id)!
        if (!this.model.flows(index, other, type)) continue
        const got = holdings[other]!.get(id) ?? new Set()
        const missing = got.has(PURGE) ? [] : [...changes].filter(change => !got.has(change))
        if (missing.length > 0)
          this.problems.push(`${peer.name}.whenSynced() resolved, but ${this.names[other]} lacks ${missing.join(", ")} of ${type} ${id}`)
      }
    }
  }

  /** A peer names to another only documents of types that peer keeps, that it lets it read, and that it keeps itself. */
  #onWire(from: number, to: number, grants: Grants, message: ControlMessage): void {
    if (WIRE)
      this.trace.push(
        `    ${this.names[from]} → ${this.names[to]}: ${JSON.stringify(message, (_, v) => (v instanceof Uint8Array ? `${v.byteLength} bytes` : typeof v === "string" && v.length > 24 ? `${v.slice(0, 6)}…` : v))}`,
      )
    const named =
      message.t === "offer"
        ? message.entries.map(e => ({ id: e.id, said: e.type }))
        : message.t === "docs"
          ? message.docs.map(d => ({ id: d.id, said: undefined }))
          : []
    for (const { id, said } of named) {
      // An offer can leave while the create that made the document is still resolving (before the model heard of it): the sender's catalog knows.
      const type = this.model.typeOf.get(id) ?? this.peers[from]!.db.catalog.get(id)?.type
      const may = type !== undefined && this.model.keeps(to, type) && this.model.keeps(from, type) && selects(grants.read, type)
      if (!may || (said !== undefined && said !== type))
        this.problems.push(
          `${this.names[from]} sent ${this.names[to]} a ${message.t} naming ${type} ${id}${said !== undefined && said !== type ? ` as a ${said}` : ""} (read grant ${show(grants.read)})`,
        )
    }
  }

  #changeName(): string {
    return `c${this.#nextChange++}`
  }

  /** Connect every pair, wait for quiescence, check. */
  async finish(): Promise<void> {
    for (let a = 0; a < this.peers.length; a++) {
      for (let b = a + 1; b < this.peers.length; b++) {
        if (this.links.has(a, b)) continue
        this.links.connect(a, b, this.peers)
        this.model.link(a, b)
      }
    }
    this.trace.push("connect every pair, quiesce")
    await this.checkQuiescent()
    if (this.problems.length > 0) return
    // Everything that may move has: restarted and reconnected, the peers' checkpoints and heads must agree that nothing differs.
    this.trace.push("restart every peer, quiesce")
    for (let i = 0; i < this.peers.length; i++) await this.#restart(i)
    await this.checkQuiescent()
    for (const peer of this.peers) {
      const moved = peer.replicator.status().filter(status => status.received > 0)
      for (const status of moved)
        this.problems.push(
          `${peer.name} received ${status.received} document(s) from ${status.peerId} after a restart, though every peer was in sync before it`,
        )
    }
  }

  /** Wait until every peer is in sync with every peer it is linked to, then check the holdings against the model. */
  async checkQuiescent(timeoutMs = 20_000): Promise<void> {
    await this.#quiescence(timeoutMs)
    const holdings = await this.#holdings()
    const problems = [...this.model.violations(holdings, this.names), ...(await this.#values(holdings))]
    if (problems.length > 0) {
      // Tell a sync that reported done too early from one that never completes.
      await sleep(500)
      await this.#quiescence(timeoutMs)
      const again = await this.#holdings()
      const later = [...this.model.violations(again, this.names), ...(await this.#values(again))]
      this.problems.push(
        ...problems,
        later.length === 0
          ? "(all of which were resolved 500 ms after every peer reported in-sync: whenSynced resolved early)"
          : "(still so 500 ms later)",
      )
      return
    }
    this.model.observed(holdings)
  }

  async #quiescence(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.peers.every(peer => peer.inSync())) {
      if (Date.now() > deadline) {
        const status = this.peers.map(
          peer =>
            `${peer.name}: ${peer.replicator
              .status()
              .map(s => `${s.peerId} ${s.state}`)
              .join(", ")}`,
        )
        this.problems.push(`no quiescence within ${timeoutMs} ms:\n    ${status.join("\n    ")}`)
        throw new Error("no quiescence")
      }
      await sleep(10)
    }
  }

  /** Which changes each peer holds, by document (a purged document: the purge alone). */
  async #holdings(): Promise<Holdings[]> {
    return Promise.all(
      this.peers.map(async peer => {
        const held: Holdings = new Map()
        for (const entry of [...peer.db.catalog.entries()]) {
          if (entry.quarantined) this.problems.push(`${peer.name} quarantined ${entry.id}: ${entry.quarantined}`)
          if (entry.purged) held.set(entry.id, new Set([PURGE]))
          else held.set(entry.id, new Set((await peer.db.history(entry.id)).map(change => change.message ?? `(no message) ${change.hash}`)))
        }
        return held
      }),
    )
  }

  /** Values each peer shows must follow from the changes it holds. */
  async #values(holdings: Holdings[]): Promise<string[]> {
    const problems: string[] = []
    for (let i = 0; i < this.peers.length; i++) {
      const peer = this.peers[i]!
      for (const [id, held] of holdings[i]!) {
        if (held.has(PURGE)) continue
        const records = [...held].map(name => this.changes.get(name)).filter(r => r !== undefined)
        const doc = await peer.db.get(id)
        const data = doc.data as { title: string; votes: number }
        const votes = records.reduce((sum, r) => sum + (r.kind === "increment" ? r.by : 0), 0)
        if (data.votes !== votes) problems.push(`${peer.name}: ${id} counts ${data.votes}, but the increments it holds add up to ${votes}`)
        const titles = records.flatMap(r => (r.kind === "create" || r.kind === "title" ? [r.title] : []))
        if (!titles.includes(data.title))
          problems.push(`${peer.name}: ${id} has title ${data.title}, written by none of the changes it holds (${titles.join(", ")})`)
        const deletes = records.filter(r => r.kind === "delete").length
        const restores = records.filter(r => r.kind === "restore").length
        if ((deletes === 0 && doc.deletedAt !== null) || (restores === 0 && deletes > 0 && doc.deletedAt === null)) {
          problems.push(
            `${peer.name}: ${id} is ${doc.deletedAt === null ? "not " : ""}deleted, but it holds ${deletes} delete(s) and ${restores} restore(s)`,
          )
        }
        const entry = peer.db.catalog.get(id)!
        const heads = sortedHeads(await peer.db.replica.store.read(id))
        if (!sameHeads(entry.heads, heads))
          problems.push(`${peer.name}: the catalog lists heads ${entry.heads.join(",")} for ${id}, the document has ${heads.join(",")}`)
      }
      for (const type of TYPES) {
        const listed = (await peer.db.list(type)).map(d => d.id).sort()
        const live = [...peer.db.catalog.idsOfType(type)].filter(id => {
          const entry = peer.db.catalog.get(id)!
          return !entry.purged && entry.deletedAt === null
        })
        if (listed.join() !== live.sort().join())
          problems.push(`${peer.name}: list(${type}) gives ${listed.length} documents, the catalog has ${live.length} live ones`)
      }
    }
    return problems
  }

  async close(): Promise<void> {
    for (let a = 0; a < this.peers.length; a++) for (const b of this.links.of(a, this.peers.length)) this.links.disconnect(a, b)
    for (const peer of this.peers) await peer.close().catch(() => {})
  }
}

function show(selection: TypeSelection): string {
  return selection === "*" ? "*" : `[${selection.join(",")}]`
}

/** Run one drawn case; resolves with what went wrong (nothing when it holds). */
export async function runCase(drawn: Setup, commands: Command[]): Promise<{ problems: string[]; trace: string[] }> {
  const run = new Run(drawn)
  try {
    await run.start(drawn)
    for (const command of commands) {
      await run.step(command).catch(error => Promise.reject(Object.assign(error, { command })))
      if (run.problems.length > 0) break
    }
    if (run.problems.length === 0) await run.finish()
  } catch (error) {
    const command = (error as { command?: Command })?.command
    if (run.problems.length === 0)
      run.problems.push(`failed${command ? ` at ${JSON.stringify(command)}` : ""}: ${(error as Error)?.stack ?? error}`)
  } finally {
    await run.close()
  }
  return { problems: run.problems, trace: run.trace }
}
