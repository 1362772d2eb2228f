/**
 * Where every live key's latest record is, in memory, so a load is one map
 * lookup and one read, and a `loadRange([docId])` looks at that document's
 * keys only.
 *
 * A key is held only as its JSON text (its `id`), which is what the log
 * stores. JSON string literals are prefix-free, so prefix matching works on
 * the text: `["abc"` followed by `]` or `,` is exactly "first part is abc",
 * and `["abcd",...` never matches it. Keys are grouped by that first literal
 * (automerge-repo's document id, or a namespace like "cairn-catalog").
 *
 * Within a group, keys are in the order they were last saved: a save moves
 * its key to the end. The log replays the same moves on open, and compaction
 * keeps records in file order, so the order survives a reopen.
 *
 * Groups are linked lists threaded through the entries rather than a Map per
 * group: most documents have one to three keys, and 100,000 small Maps cost
 * more memory and garbage collection than the entries themselves.
 */

/** Where a live key's latest value is. */
export interface IndexEntry {
  /** The key as JSON (`JSON.stringify` of the key array): its identity. */
  readonly id: string
  /** Position of the record in the current log file; -1 while it waits in the write queue. */
  offset: number
  /** The record's length in bytes (header, key and value). */
  readonly length: number
  /** The value while its record is not yet on disk, so a load sees a save from the moment it is made. */
  pending: Uint8Array | undefined
  /** Neighbours in the key's group, in save order. */
  previous: IndexEntry | undefined
  next: IndexEntry | undefined
}

interface Group {
  first: IndexEntry | undefined
  last: IndexEntry | undefined
}

/** The first string literal of a key's JSON, with its opening bracket: `["abc"` for `["abc","snapshot","h"]`. */
const FIRST_PART = /^\["(?:[^"\\]|\\.)*"/

export class KeyIndex {
  readonly #entries = new Map<string, IndexEntry>()
  readonly #groups = new Map<string, Group>()
  #liveBytes = 0
  #pendingBytes = 0

  /** Number of live keys. */
  get size(): number {
    return this.#entries.size
  }

  /** Bytes of all live records (header, key and value), written or waiting to be. */
  get liveBytes(): number {
    return this.#liveBytes
  }

  /** Bytes of the live records that are already in the log file (not waiting to be written). */
  get writtenLiveBytes(): number {
    return this.#liveBytes - this.#pendingBytes
  }

  /** The live entry for a key id, if any. */
  get(id: string): IndexEntry | undefined {
    return this.#entries.get(id)
  }

  /** Make `entry` its key's latest value (moving the key to the end of its group). Returns the entry it replaced. */
  set(entry: IndexEntry): IndexEntry | undefined {
    const previous = this.delete(entry.id)
    const groupKey = groupOf(entry.id)
    let group = this.#groups.get(groupKey)
    if (!group) this.#groups.set(groupKey, (group = { first: undefined, last: undefined }))
    entry.previous = group.last
    entry.next = undefined
    if (group.last) group.last.next = entry
    else group.first = entry
    group.last = entry
    this.#entries.set(entry.id, entry)
    this.#liveBytes += entry.length
    if (entry.offset < 0) this.#pendingBytes += entry.length
    return previous
  }

  /** Remove a key. Returns the entry it had, if it was live. */
  delete(id: string): IndexEntry | undefined {
    const entry = this.#entries.get(id)
    if (!entry) return undefined
    this.#entries.delete(id)
    const groupKey = groupOf(id)
    const group = this.#groups.get(groupKey)!
    if (entry.previous) entry.previous.next = entry.next
    else group.first = entry.next
    if (entry.next) entry.next.previous = entry.previous
    else group.last = entry.previous
    if (!group.first) this.#groups.delete(groupKey)
    // Detached entries may still be read (a load in flight): keep their data, drop their links.
    entry.previous = entry.next = undefined
    this.#liveBytes -= entry.length
    if (entry.offset < 0) this.#pendingBytes -= entry.length
    return entry
  }

  /** Record that `entry`'s record is now in the log at `offset`; its value no longer needs to be held in memory. */
  markWritten(entry: IndexEntry, offset: number): void {
    if (entry.offset < 0 && this.isLive(entry)) this.#pendingBytes -= entry.length
    entry.offset = offset
    entry.pending = undefined
  }

  /** Whether `entry` is still its key's live entry (not replaced or removed since it was looked up). */
  isLive(entry: IndexEntry): boolean {
    return this.#entries.get(entry.id) === entry
  }

  /** Live entries whose key starts with every part of `prefix`, in group order. An empty prefix matches all. */
  matching(prefix: readonly string[]): IndexEntry[] {
    if (prefix.length === 0) return [...this.#entries.values()]
    const open = JSON.stringify(prefix).slice(0, -1)
    const matches: IndexEntry[] = []
    for (let entry = this.#groups.get(groupOf(open))?.first; entry; entry = entry.next) {
      const id = entry.id
      if (id.startsWith(open) && (id.length === open.length + 1 || id[open.length] === ",")) matches.push(entry)
    }
    return matches
  }

  /** Every live entry. */
  entries(): IterableIterator<IndexEntry> {
    return this.#entries.values()
  }
}

/** The group of a key id (or of a prefix's JSON without its closing bracket). The empty key is its own group. */
function groupOf(id: string): string {
  return FIRST_PART.exec(id)?.[0] ?? id
}
