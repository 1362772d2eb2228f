/**
 * Sync through a plain folder that something else moves between machines
 * (Dropbox, Syncthing, a NAS share): each machine writes files of its own
 * there (see FolderLayout), and reads the other machines' files of the
 * types it wants. Machines need never be running at the same time.
 *
 * `sync()` reads then writes once; `start()` keeps doing so while the peer
 * runs: when the folder changes (fs.watch, and a periodic rescan for what a
 * watch misses, as on network shares) and shortly after local changes.
 *
 * Trust: anyone who can reach the folder can put files in it, so a file is
 * applied only if it is signed by a machine in this peer's trust list that
 * may write its type, whatever the peer's network auth mode (a folder has no
 * handshake to be open about). What the folder cannot do is keep a machine
 * that can read it from reading every type in it.
 */
import { watch, type FSWatcher } from "node:fs"
import { mkdir } from "node:fs/promises"
import { resolve, sep } from "node:path"
import { selects, type Database, type Logger, type TrustLookup, type TypeSelection } from "@cairn/core"
import { exportType, writeJsonForms, type CompactionLimits } from "./FolderExport.js"
import { emptyImport, importType, type SkippedFile } from "./FolderImport.js"
import { FolderLayout } from "./FolderLayout.js"
import { FolderState } from "./FolderState.js"

export interface FolderSyncOptions {
  /** Compact a type's files of this machine into one snapshot when there are this many (default 32). */
  maxFiles?: number
  /** ... or when its files since the last snapshot hold this many bytes, and more than that snapshot (default 4 MiB). */
  maxBytes?: number
  /** While started: look at the whole folder this often, for changes a watch did not report (default 10 s). */
  rescanMs?: number
  /** While started: write this long after the last local change (default 1 s), so a burst of changes makes one file. */
  debounceMs?: number
  /** A file still incomplete this long after it was first skipped, at the same size, is reported (default 60 s). */
  reportAfterMs?: number
}

/** What a peer gives its folder sync. */
export interface FolderPeer {
  db: Database
  /** Whose files are applied, and for which types (their write grants). */
  trust: Pick<TrustLookup, "get">
  /** The types this peer reads from the folder and writes to it. */
  wants: TypeSelection
  /** The peer's data directory, where what it has read and written is remembered. */
  dataDir: string
  logger: Logger
}

/** What one sync did. */
export interface FolderSyncResult {
  /** Files of other machines applied. */
  applied: string[]
  /** Documents that changed here. */
  received: number
  /** Documents purged here by another machine's purge. */
  purged: number
  /** Files written, and the documents and purges they carry. */
  written: string[]
  sent: number
  /** Files not applied for now: being copied in, waiting for an earlier one, or refused (untrusted, no grant, bad signature). */
  skipped: SkippedFile[]
  /** Documents whose changes were refused (they would change what the document fixed at creation). */
  refused: { id: string; type: string; reason: string }[]
}

/** A folder link as status views show it. */
export interface FolderStatus {
  transport: "folder"
  dir: string
  running: boolean
  lastSyncAt: number | null
  /** Files skipped by the last sync. */
  skipped: number
  /** What went wrong with the last sync, if it failed. */
  error?: string
}

export class FolderSync {
  readonly layout: FolderLayout
  #queue: Promise<unknown> = Promise.resolve()
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAt = 0
  #rescan: ReturnType<typeof setInterval> | undefined
  #watchers: FSWatcher[] = []
  #stopChanges: (() => void) | undefined
  #running = false
  #lastSyncAt: number | null = null
  #lastSkipped = 0
  #error: string | undefined
  /** Skipped files already reported, and when each was first skipped at its size. */
  readonly #skippedSince = new Map<string, { bytes: number; since: number; reported: boolean }>()
  readonly #limits: CompactionLimits
  readonly #log: Logger

  private constructor(
    private readonly peer: FolderPeer,
    private readonly state: FolderState,
    dir: string,
    private readonly options: FolderSyncOptions,
  ) {
    this.layout = new FolderLayout(dir)
    this.#limits = { maxFiles: options.maxFiles ?? 32, maxBytes: options.maxBytes ?? 4 * 1024 * 1024 }
    this.#log = peer.logger.child("folder")
  }

  static async open(peer: FolderPeer, dir: string, options: FolderSyncOptions = {}): Promise<FolderSync> {
    const root = resolve(dir)
    await mkdir(root, { recursive: true })
    return new FolderSync(peer, await FolderState.load(peer.dataDir, root), root, options)
  }

  get dir(): string {
    return this.layout.root
  }

  /** Apply what other machines wrote, then write what changed here; one at a time. */
  sync(): Promise<FolderSyncResult> {
    const run = this.#queue.then(() => this.#syncNow())
    this.#queue = run.catch(() => {})
    return run
  }

  async #syncNow(): Promise<FolderSyncResult> {
    const { db, trust, wants } = this.peer
    const context = { db, layout: this.layout, state: this.state, trust, wants, machine: db.machine, limits: this.#limits }
    const imported = emptyImport()
    const types = wants === "*" ? await this.layout.types() : wants
    for (const type of types) await importType(context, type, imported)
    await this.state.save()
    const written: string[] = []
    let sent = 0
    for (const type of db.replica.catalog.types().filter(type => selects(wants, type))) {
      const exported = await exportType(context, type)
      if (exported.file) written.push(this.layout.file(type, db.machine.machineId, exported.file))
      sent += exported.docs + exported.tombstones
      // The sync file first: it is what other machines need, the JSON forms are for people.
      await this.state.save()
      await writeJsonForms(context, type)
    }
    await this.state.save()
    this.#lastSyncAt = Date.now()
    this.#lastSkipped = imported.skipped.length
    this.#error = undefined
    return {
      applied: imported.files,
      received: imported.received,
      purged: imported.purged,
      written,
      sent,
      skipped: imported.skipped,
      refused: imported.refused,
    }
  }

  /** Keep syncing until `stop()`: now, when the folder changes, and after local changes. */
  start(): void {
    if (this.#running) return
    this.#running = true
    this.#watch()
    this.#rescan = setInterval(() => {
      this.#watch()
      this.#schedule(0)
    }, this.options.rescanMs ?? 10_000)
    const debounce = this.options.debounceMs ?? 1000
    this.#stopChanges = this.peer.db.on("change", event => {
      if (selects(this.peer.wants, event.type)) this.#schedule(debounce)
    })
    this.#schedule(0)
  }

  /** Stop syncing; what changed here since the last sync is written first. */
  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    clearTimeout(this.#timer)
    this.#timer = undefined
    clearInterval(this.#rescan)
    this.#stopChanges?.()
    for (const watcher of this.#watchers) watcher.close()
    this.#watchers = []
    await this.#queue
    await this.sync().catch(error => this.#failed(error))
  }

  status(): FolderStatus {
    return {
      transport: "folder",
      dir: this.dir,
      running: this.#running,
      lastSyncAt: this.#lastSyncAt,
      skipped: this.#lastSkipped,
      ...(this.#error ? { error: this.#error } : {}),
    }
  }

  /** Sync after `delay` ms, unless one is due sooner. */
  #schedule(delay: number): void {
    if (!this.#running) return
    const at = Date.now() + delay
    if (this.#timer && this.#timerAt <= at) return
    clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.sync().then(
        result => this.#report(result.skipped),
        error => this.#failed(error),
      )
    }, delay)
  }

  /**
   * Watch the type folders this peer reads (the whole folder for a peer that
   * wants every type); set up again on each rescan, as folders appear.
   */
  #watch(): void {
    if (this.#watchers.length > 0) return
    const { wants, db } = this.peer
    const own = sep + db.machine.machineId
    const roots = wants === "*" ? [this.dir] : wants.map(type => this.layout.typeDir(type))
    for (const root of roots) {
      try {
        const watcher = watch(root, { recursive: true }, (_event, name) => {
          // Our own writes, and JSON forms, are nothing to read.
          const path = sep + String(name ?? "")
          if (path.includes(own) || path.includes(`${sep}json${sep}`)) return
          this.#schedule(200)
        })
        watcher.on("error", () => {
          watcher.close()
          this.#watchers = this.#watchers.filter(w => w !== watcher)
        })
        this.#watchers.push(watcher)
      } catch {
        // Not there yet, or not watchable (some network file systems): the rescan covers it.
      }
    }
  }

  /**
   * Log skipped files that stay bad: a refused one at once, an incomplete one
   * when it has kept its size for `reportAfterMs` (a copy still in progress
   * grows). Each is logged once.
   */
  #report(skipped: SkippedFile[]): void {
    const now = Date.now()
    const after = this.options.reportAfterMs ?? 60_000
    const seen = new Set<string>()
    for (const file of skipped) {
      seen.add(file.path)
      let note = this.#skippedSince.get(file.path)
      if (!note || note.bytes !== file.bytes) this.#skippedSince.set(file.path, (note = { bytes: file.bytes, since: now, reported: false }))
      if (note.reported || (file.kind !== "refused" && now - note.since < after)) continue
      note.reported = true
      this.#log.warn(`folder ${this.dir}: not applying ${file.path}: ${file.reason}`)
    }
    for (const path of this.#skippedSince.keys()) if (!seen.has(path)) this.#skippedSince.delete(path)
  }

  #failed(error: unknown): void {
    this.#error = (error as Error)?.message ?? String(error)
    this.#log.warn(`folder ${this.dir}: sync failed: ${this.#error}; trying again on the next change or rescan`)
  }
}
