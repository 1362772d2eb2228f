/**
 * What each peer may and must hold, for replication.property.test.ts: a
 * model of the replication protocol that knows nothing of how it works, only
 * of who may send what to whom.
 *
 * A document is the set of changes made to it (each named by its commit
 * message, see the test), plus a purge tombstone. Changes of a document of
 * type t move from peer i to peer j only while they are connected and
 *
 *   t is kept by both (in i's and j's wants, or either is a relay),
 *   i lets j read t (i's read grant for j), and
 *   j takes writes of t from i (j's write grant for i),
 *
 * and then all of i's changes to it move (the protocol sends whole
 * documents or everything since the receiver's heads). A purge tombstone
 * for a document j never held moves only if j takes every type from i.
 *
 * How fast they move is not the model's to say, so it keeps two bounds per
 * peer and document: `may`, everything that could have reached the peer by
 * some path that was open at some time after the change existed (closed
 * under the links after every command), and `must`, what the peer is known
 * to hold (what it made, and what it held at the last quiescence: a peer
 * never loses a change, restarts included). At a quiescence point the real
 * holdings must lie between the bounds and be closed under the open links.
 */
import { selects, type Grants, type TypeSelection } from "../src/index.js"

export const PURGE = "purge"

export interface PeerSpec {
  wants: TypeSelection
  relay: boolean
}

/** Change names per document id. */
export type Holdings = Map<string, Set<string>>

export class ReplicationModel {
  /** grants[i][j]: what peer i lets peer j do. */
  readonly grants: Grants[][]
  readonly #links = new Set<string>()
  readonly may: Holdings[]
  readonly must: Holdings[]
  /** Document id → its type. */
  readonly typeOf = new Map<string, string>()

  constructor(
    readonly peers: PeerSpec[],
    grants: Grants[][],
  ) {
    this.grants = grants.map(row => row.map(g => ({ ...g })))
    this.may = peers.map(() => new Map())
    this.must = peers.map(() => new Map())
  }

  keeps(peer: number, type: string): boolean {
    return this.peers[peer]!.relay || selects(this.peers[peer]!.wants, type)
  }

  linked(a: number, b: number): boolean {
    return this.#links.has(key(a, b))
  }

  link(a: number, b: number): void {
    this.#links.add(key(a, b))
    this.close()
  }

  unlink(a: number, b: number): void {
    this.#links.delete(key(a, b))
  }

  /** Does a document of `type` move from `from` to `to` over their link now? */
  flows(from: number, to: number, type: string): boolean {
    return (
      this.linked(from, to) &&
      this.keeps(from, type) &&
      this.keeps(to, type) &&
      selects(this.grants[from]![to]!.read, type) &&
      selects(this.grants[to]![from]!.write, type)
    )
  }

  /** Every directed edge that carries `type` now. */
  edges(type: string): [number, number][] {
    const edges: [number, number][] = []
    for (let i = 0; i < this.peers.length; i++) {
      for (let j = 0; j < this.peers.length; j++) if (i !== j && this.flows(i, j, type)) edges.push([i, j])
    }
    return edges
  }

  /** A document was created on `peer` with its first change. */
  created(peer: number, id: string, type: string, change: string): void {
    this.typeOf.set(id, type)
    this.made(peer, id, [change])
  }

  /** `peer` holds these changes to a document now (it made them, or made one that depends on them). */
  made(peer: number, id: string, changes: Iterable<string>): void {
    for (const change of changes) {
      add(this.may[peer]!, id, change)
      add(this.must[peer]!, id, change)
    }
    this.close()
  }

  /** Close `may` under the links open now: anything may already have crossed them. */
  close(): void {
    for (const id of this.typeOf.keys()) {
      const edges = this.edges(this.typeOf.get(id)!)
      for (let changed = true; changed; ) {
        changed = false
        for (const [from, to] of edges) {
          for (const change of this.may[from]!.get(id) ?? []) changed = add(this.may[to]!, id, change) || changed
        }
      }
    }
  }

  /** At a quiescence point: what the peers hold is now known to be held (and must never shrink). */
  observed(holdings: Holdings[]): void {
    holdings.forEach((held, peer) => {
      for (const [id, changes] of held) for (const change of changes) add(this.must[peer]!, id, change)
    })
  }

  /**
   * What is wrong with these real holdings, taken at a quiescence point:
   * each must lie between the bounds, and every open link that carries a
   * document's type must have carried all of it.
   */
  violations(holdings: Holdings[], names: string[]): string[] {
    const problems: string[] = []
    holdings.forEach((held, peer) => {
      const name = names[peer]
      for (const [id, changes] of held) {
        const may = this.may[peer]!.get(id) ?? new Set()
        const type = this.typeOf.get(id) ?? "?"
        const beyond = [...changes].filter(change => !may.has(change))
        if (may.size === 0)
          problems.push(`${name} holds ${type} ${id}, which no open path could bring it (keeps ${type}: ${this.keeps(peer, type)})`)
        else if (beyond.length > 0)
          problems.push(`${name} holds ${beyond.join(", ")} of ${type} ${id}, which no permitted path could bring it`)
      }
      for (const [id, must] of this.must[peer]!) {
        const changes = held.get(id) ?? new Set()
        if (changes.has(PURGE)) continue
        const missing = [...must].filter(change => !changes.has(change))
        if (missing.length > 0)
          problems.push(
            `${name} lost or never got ${missing.join(", ")} of ${this.typeOf.get(id)} ${id} (it holds ${[...changes].join(", ") || "nothing"})`,
          )
      }
    })
    for (const [id, type] of this.typeOf) {
      for (const [from, to] of this.edges(type)) {
        const sent = holdings[from]!.get(id)
        const got = holdings[to]!.get(id) ?? new Set()
        if (!sent || got.has(PURGE)) continue
        // A tombstone for a document the receiver never held is taken only from a peer that may write every type
        // (from any other, taking it would tell that peer whether the id is held here).
        if (sent.has(PURGE) && got.size === 0 && this.grants[to]![from]!.write !== "*") continue
        const missing = sent.has(PURGE) ? [PURGE] : [...sent].filter(change => !got.has(change))
        if (missing.length > 0)
          problems.push(
            `${names[from]} → ${names[to]} carries ${type}, but ${names[to]} lacks ${missing.join(", ")} of ${id} that ${names[from]} holds`,
          )
      }
    }
    return problems
  }
}

function key(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`
}

function add(holdings: Holdings, id: string, change: string): boolean {
  let set = holdings.get(id)
  if (!set) holdings.set(id, (set = new Set()))
  if (set.has(change)) return false
  set.add(change)
  return true
}
