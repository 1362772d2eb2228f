/**
 * What each command does, as a function of a peer: the same code runs in
 * the `cairn` process (which opens the data directory) or inside a running
 * `cairn serve` (which received the request over its local socket).
 */
import { mkdir, readdir, writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import {
  KindChangeError,
  NotFoundError,
  PurgedError,
  QuarantinedError,
  TimeoutError,
  applyEdit,
  assertTypeName,
  dataFieldOf,
  isVisible,
  decodeDocument,
  describedType,
  untagForField,
  type Doc,
  type Edit,
  type FieldJSON,
  newestPublished,
} from "@cairn/core"
import { parseTypeSelection, type NodePeer } from "@cairn/node"
import { UsageError } from "./errors.js"
import { EXPORT_MANIFEST, inside, readExportFile, type ManifestEntry } from "./exportFiles.js"
import { folderLinks, syncThroughFolder } from "./folder.js"
import { parsePath } from "./paths.js"
import { schemaCommands } from "./schemaCommands.js"

export interface Request {
  command: string
  args: string[]
  options: Record<string, unknown>
  /** Standard input, for `create` without a JSON argument. */
  stdin?: string
  /** Progress of long work (export, import), shown only on a terminal. */
  progress?: (done: number, total: number) => void
  /** The result is printed for a person (no --json): a command may add what its human output shows (kinds, machine names). */
  human?: boolean
}

export type Command = (peer: NodePeer, request: Request) => Promise<unknown>

/** Parse JSON given by the user; invalid JSON is a usage error. */
export function parseJSON(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new UsageError(`${what} is not valid JSON: ${(error as Error).message}`)
  }
}

/** A VALUE argument: JSON if it parses, else the string itself. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** The fields a type's definition here declares, if there is one. */
function fieldsOf(peer: NodePeer, type: string): Record<string, FieldJSON> | undefined {
  return peer.db.definition(type)?.toJSON().fields
}

async function documentOf(peer: NodePeer, id: string): Promise<Doc> {
  if (!id) throw new UsageError("missing document id")
  return peer.db.get(id)
}

async function change(
  peer: NodePeer,
  id: string,
  mutate: (draft: Record<string, unknown>) => void,
  options: Record<string, unknown>,
): Promise<Doc> {
  const doc = await documentOf(peer, id)
  return peer.db.change(doc.type, id, mutate as never, messageOf(options))
}

/** The `--message` of a write, as the database API takes it. */
function messageOf(options: Record<string, unknown>): { message?: string } {
  return options.message === undefined ? {} : { message: String(options.message) }
}

/** The catalog entry of a document that is here and not quarantined (purged or not: purge and restore say what they found). */
function entryOf(peer: NodePeer, id: string | undefined) {
  if (!id) throw new UsageError("missing document id")
  const entry = peer.db.catalog.get(id)
  if (!entry) throw new NotFoundError(id)
  if (entry.quarantined && !entry.purged) throw new QuarantinedError(id, `${entry.quarantined} (see cairn quarantine)`)
  return entry
}

/** The full hash of the change `text` names (the hash, or a unique prefix of it) in a document's history. */
async function changeNamed(peer: NodePeer, id: string, text: string): Promise<string> {
  if (!/^[0-9a-f]{4,64}$/.test(text))
    throw new UsageError(`--at takes a change hash from cairn history (4 to 64 hex characters), got ${JSON.stringify(text)}`)
  const matches = (await peer.db.history(id)).filter(change => change.hash.startsWith(text))
  if (matches.length === 0) throw new Error(`document ${id} has no change ${text}; cairn history ${id} lists its changes`)
  if (matches.length > 1) throw new Error(`${text} is the start of ${matches.length} changes of document ${id}; give more of the hash`)
  return matches[0]!.hash
}

/** Names of the machines this peer knows (itself, trusted, connected), by machine id. */
function machineNames(peer: NodePeer): Record<string, string> {
  const names: Record<string, string> = {}
  for (const status of peer.peers()) if (status.name) names[status.machineId] = status.name
  for (const machine of peer.trust.list()) if (machine.name) names[machine.machineId] = machine.name
  if (peer.db.machine.name) names[peer.db.machine.machineId] = peer.db.machine.name
  return names
}

function integer(text: string | undefined, what: string): number {
  if (text === undefined || !/^-?\d+$/.test(text)) throw new UsageError(`${what} must be an integer, got ${JSON.stringify(text)}`)
  return Number(text)
}

export const commands: Record<string, Command> = {
  async whoami(peer) {
    const machine = peer.db.machine
    return { machineId: machine.machineId, publicKey: machine.publicKey, name: machine.name ?? null }
  },

  async create(peer, { args, options, stdin }) {
    const [type, json] = args
    assertTypeName(type)
    const text = json ?? stdin
    if (text === undefined || text.trim() === "") throw new UsageError("no data: give JSON as an argument or on standard input")
    const data = parseJSON(text, "the document data")
    if (typeof data !== "object" || data === null || Array.isArray(data)) throw new UsageError("the document data must be a JSON object")
    // Without app code for the type, the newest definition synced here as a document gives its defaults and kinds.
    const definition = peer.db.definition(type) ?? (await newestPublished(peer.db, type))
    if (definition) return peer.db.create(definition, untagForField(dataFieldOf(definition), data, []) as never, messageOf(options))
    return peer.db.create(type, data as Record<string, unknown>, messageOf(options))
  },

  async get(peer, { args, options, human }) {
    const id = args[0]!
    const current = await documentOf(peer, id)
    const at = options.at === undefined ? undefined : await changeNamed(peer, id, String(options.at))
    const doc = at === undefined ? current : await peer.db.view(id, at)
    if (!human) return doc
    return { ...doc, at: at ?? null, tagged: (await peer.db.exportDocument(id, at)).data, machines: machineNames(peer) }
  },

  async ls(peer, { options }) {
    // Schema documents describe types (`cairn schema list` shows them); `--type cairn.schema.task` lists them as documents.
    const types = options.type
      ? [String(options.type)]
      : peer.db
          .types()
          .map(t => t.type)
          .filter(type => describedType(type) === undefined)
    for (const type of types) assertTypeName(type)
    const docs = (await Promise.all(types.map(type => peer.db.list(type, { includeDeleted: !!options.deleted })))).flat()
    return docs.sort((a, b) => b.modifiedAt - a.modifiedAt || (a.id < b.id ? -1 : 1))
  },

  async set(peer, { args, options }) {
    const [id, pathText, valueText] = args
    if (valueText === undefined) throw new UsageError("usage: cairn set ID PATH VALUE [--force-kind]")
    const path = parsePath(pathText!)
    const doc = await documentOf(peer, id!)
    const edit: Edit = { op: "set", path, value: parseValue(valueText), force: !!options.forceKind }
    try {
      return await peer.db.change(doc.type, id!, draft => applyEdit(draft, edit, fieldsOf(peer, doc.type)), messageOf(options))
    } catch (error) {
      if (error instanceof KindChangeError) throw new Error(`${error.message}; give --force-kind to replace it anyway`, { cause: error })
      throw error
    }
  },

  async unset(peer, { args, options }) {
    const path = parsePath(args[1] ?? "")
    return change(peer, args[0]!, draft => applyEdit(draft, { op: "unset", path }), options)
  },

  async incr(peer, { args, options }) {
    const path = parsePath(args[1] ?? "")
    const by = args[2] === undefined ? 1 : integer(args[2], "N")
    return change(peer, args[0]!, draft => applyEdit(draft, { op: "incr", path, by }), options)
  },

  async text(peer, { args, options }) {
    const path = parsePath(args[1] ?? "")
    const splice = args.slice(2)
    if (!options.splice || splice.length < 2 || splice.length > 3) throw new UsageError("usage: cairn text ID PATH --splice POS DEL [STR]")
    const edit: Edit = { op: "splice", path, index: integer(splice[0], "POS"), del: integer(splice[1], "DEL"), text: splice[2] ?? "" }
    return change(peer, args[0]!, draft => applyEdit(draft, edit), options)
  },

  async rm(peer, { args, options }) {
    await documentOf(peer, args[0]!)
    await peer.db.delete(args[0]!, messageOf(options))
    return { id: args[0], deleted: true }
  },

  async restore(peer, { args, options }) {
    const entry = entryOf(peer, args[0])
    if (entry.purged) throw new PurgedError(entry.id)
    if (entry.deletedAt === null) throw new Error(`document ${entry.id} is not deleted; there is nothing to restore`)
    await peer.db.restore(entry.id, messageOf(options))
    return { id: entry.id, restored: true }
  },

  async purge(peer, { args }) {
    const entry = entryOf(peer, args[0])
    if (entry.purged) throw new Error(`document ${entry.id} is already purged`)
    if (entry.deletedAt === null)
      throw new Error(`document ${entry.id} is not deleted; delete it first (cairn rm ${entry.id}), then purge it`)
    await peer.db.purge(entry.id)
    return { id: entry.id, purged: true }
  },

  async history(peer, { args, human }) {
    await documentOf(peer, args[0]!)
    const changes = await peer.db.history(args[0]!)
    return human ? { changes, machines: machineNames(peer) } : changes
  },

  async status(peer) {
    return {
      dataDir: peer.directory.path,
      machine: await commands.whoami!(peer, { command: "whoami", args: [], options: {} }),
      documents: Object.fromEntries(peer.db.types().map(({ type, count }) => [type, count])),
      peers: peerList(peer),
    }
  },

  async presence(peer, { args }) {
    if (args[0] === "set") {
      let state: unknown
      try {
        state = JSON.parse(args[1] ?? "")
      } catch {
        throw new UsageError(`usage: cairn presence set '{"status": "away"}' (a JSON object)`)
      }
      try {
        peer.presence.set(state as Record<string, unknown>)
      } catch (error) {
        throw new UsageError((error as Error).message)
      }
      return [peer.presence.get()[0]]
    }
    if (args[0] !== undefined) throw new UsageError(`unknown presence action ${JSON.stringify(args[0])}: cairn presence [set JSON]`)
    return peer.presence.get()
  },

  async peers(peer, { options, human }) {
    if (!options.nearby) return peerList(peer)
    const wait = Number(options.wait ?? 3)
    if (!(wait > 0 && wait <= 60)) throw new UsageError(`--wait must be between 0 and 60 seconds, got ${options.wait}`)
    const connected = peer.peers().filter(p => p.state !== "closed")
    const nearby = (await peer.nearby(wait * 1000)).map(machine => ({
      ...machine,
      connected: connected.some(p => p.machineId === machine.machineId),
    }))
    return human ? { nearby } : nearby
  },

  async trust(peer, { args, options }) {
    if (!args[0]) throw new UsageError("usage: cairn trust PUBKEY --read T1,T2|* [--write T1,T2|*] [--name NAME]")
    if (options.read === undefined) throw new UsageError("say what the machine may read: --read T1,T2 or --read '*'")
    const machine = await peer.trust.trust(args[0], {
      read: selection(String(options.read)),
      write: options.write === undefined ? [] : selection(String(options.write)),
      ...(options.name ? { name: String(options.name) } : {}),
    })
    return machine
  },

  async untrust(peer, { args }) {
    if (!args[0]) throw new UsageError("usage: cairn untrust PUBKEY")
    if (!(await peer.trust.untrust(args[0]))) throw new Error(`no trusted machine ${args[0]}`)
    return { untrusted: args[0] }
  },

  async export(peer, { args, options, progress }) {
    const target = resolve(args[0] ?? "")
    if (!args[0]) throw new UsageError("usage: cairn export DIR")
    const present = await readdir(target).catch(() => [])
    if (present.length > 0 && !options.force)
      throw new UsageError(`${target} is not empty; export into an empty folder, or give --force to write over what is there`)
    await mkdir(target, { recursive: true })
    const documents: ManifestEntry[] = []
    const entries = [...peer.db.catalog.entries()].filter(entry => isVisible(entry, { includeDeleted: true }))
    for (const entry of entries) {
      progress?.(documents.length, entries.length)
      const exported = await peer.db.exportDocument(entry.id)
      const file = join(entry.type, `${entry.id}.json`)
      const history = join(entry.type, `${entry.id}.automerge`)
      await mkdir(join(target, entry.type), { recursive: true })
      await writeFile(inside(target, file), JSON.stringify(exported, null, 2) + "\n")
      await writeFile(inside(target, history), await peer.db.exportHistory(entry.id))
      documents.push({ id: entry.id, type: entry.type, file, history })
    }
    const manifest = { format: EXPORT_MANIFEST, exportedAt: new Date().toISOString(), machineId: peer.db.machine.machineId, documents }
    await writeFile(join(target, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n")
    return { exported: documents.length, dir: target }
  },

  async import(peer, { args, options, progress }) {
    if (!args[0]) throw new UsageError("usage: cairn import DIR")
    const source = resolve(args[0])
    const manifestText = await readExportFile(source, "manifest.json", "utf8").catch(error => {
      throw new Error(`${source} is not a Cairn export: ${(error as Error).message}`)
    })
    const manifest = parseJSON(manifestText, "manifest.json") as { format?: string; documents?: Partial<ManifestEntry>[] }
    if ((manifest.format !== EXPORT_MANIFEST && manifest.format !== "cairn.export/1") || !Array.isArray(manifest.documents))
      throw new Error(`${source}/manifest.json is not a Cairn export manifest`)
    // Read and check every file first, so a bad export imports nothing.
    const decoded: { document: ReturnType<typeof decodeDocument>; history?: Uint8Array }[] = []
    for (const item of manifest.documents) {
      if (typeof item.file !== "string") throw new Error("manifest.json lists a document without a file")
      if (item.history !== undefined && typeof item.history !== "string")
        throw new Error(`manifest.json: the history of ${item.file} is not a file name`)
      const document = decodeDocument(await readExportFile(source, item.file, "utf8"), item.file)
      decoded.push({ document, ...(item.history ? { history: await readExportFile(source, item.history) } : {}) })
    }
    const counts = { created: 0, merged: 0, changed: 0, unchanged: 0 }
    const newIds: { from: string; to: string }[] = []
    for (const { document, history } of decoded) {
      progress?.(
        Object.values(counts).reduce((a, b) => a + b, 0),
        decoded.length,
      )
      if (history) {
        counts[await peer.db.importHistory(document.id, history, document, messageOf(options))]++
        continue
      }
      const { result, id } = await peer.db.importDocument(document, messageOf(options))
      counts[result]++
      if (id !== document.id) newIds.push({ from: document.id, to: id })
    }
    return { ...counts, newIds }
  },

  async quarantine(peer, { args }) {
    const [action = "list", id] = args
    if (action === "list") return peer.db.quarantined()
    if (!id || !["show", "drop", "release"].includes(action))
      throw new UsageError("usage: cairn quarantine [list | show ID | drop ID | release ID]")
    const listed = peer.db.quarantined().find(document => document.id === id)
    if (!listed) throw new Error(`document ${id} is not quarantined here`)
    if (action === "show") return { ...listed, document: await peer.db.quarantinedDocument(id) }
    if (action === "drop") await peer.db.dropQuarantined(id)
    else await peer.db.releaseQuarantined(id)
    return { [action === "drop" ? "dropped" : "released"]: id }
  },

  async sync(peer, { args, options }) {
    if (options.folder !== undefined) return syncThroughFolder(peer, String(options.folder), args)
    const url = args[0]
    if (!url || !/^(wss?|tcps?):\/\//.test(url)) throw new UsageError("usage: cairn sync ws://HOST:PORT (or wss://, tcp://, tcps://)")
    const timeoutMs = options.timeout === undefined ? 30_000 : Number(options.timeout) * 1000
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError("--timeout takes a number of seconds")
    let client: ReturnType<typeof peer.network.connect>
    try {
      client = peer.network.connect(url)
    } catch (error) {
      throw error instanceof TypeError ? new UsageError(error.message) : error
    }
    // A first attempt that failed means nothing answers there: say so now rather than retry until the timeout.
    // Followed by event, not by polling: a refused connection goes from connecting to disconnected within a poll.
    let tried = client.status === "connecting"
    let failed = false
    const onStatus = (status: string) => {
      if (status === "connecting") tried = true
      else if (status === "disconnected" && tried) failed = true
    }
    client.on("status", onStatus)
    const quarantined: { id: string; type: string; reason: string }[] = []
    const stopWatching = peer.db.on("quarantine", document => quarantined.push(document))
    // The other peer says which of our changes it refused (no write grant); they arrive before it says it is in sync.
    const denied = new Map<string, string>()
    const stopDenied = peer.replicator.on("denied", event => {
      if (event.peerId === client.remotePeerId) for (const id of event.ids) denied.set(id, event.reason)
    })
    try {
      const deadline = Date.now() + timeoutMs
      await new Promise<void>((resolve, reject) => {
        const finish = (error?: Error) => {
          clearTimeout(timer)
          client.off("status", check)
          if (error) reject(error)
          else resolve()
        }
        // After onStatus (registered first), which notes a failed attempt.
        const check = () => {
          if (client.status === "connected") finish()
          else if (client.status === "refused") finish(new Error(`${url} refused this peer: ${client.refusalReason ?? "no reason given"}`))
          else if (failed) finish(new Error(`cannot connect to ${url}`))
        }
        const timer = setTimeout(() => finish(new TimeoutError(`cannot connect to ${url}`)), timeoutMs)
        client.on("status", check)
        check()
      })
      const peerId = client.remotePeerId!
      await peer.replicator.whenSynced(peerId, Math.max(1, deadline - Date.now())).catch(() => {
        throw new TimeoutError(`timed out after ${timeoutMs / 1000} s before ${url} and this peer were in sync`)
      })
      const status = peer.peers().find(p => p.peerId === peerId)
      const wants = options.types === undefined ? "*" : selection(String(options.types))
      const documents = peer.db
        .types()
        .filter(t => wants === "*" || wants.includes(t.type))
        .reduce((n, t) => n + t.count, 0)
      const refused = [...denied].map(([id, reason]) => ({ id, type: peer.db.catalog.get(id)?.type ?? "unknown", reason }))
      return { sent: status?.sent ?? 0, received: status?.received ?? 0, documents, quarantined, denied: refused }
    } finally {
      stopDenied()
      stopWatching()
      client.off("status", onStatus)
      peer.network.disconnect(url)
    }
  },
  ...schemaCommands,
}

function selection(text: string) {
  try {
    return parseTypeSelection(text)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

function peerList(peer: NodePeer) {
  const connected = peer.peers()
  // Types the machine defines in a way this peer's definitions cannot live beside (said at connect).
  const schemas = (machineId: string) => connected.find(p => p.machineId === machineId && p.state !== "closed")?.schemas ?? []
  const trusted = peer.trust.list().map(machine => ({
    machineId: machine.machineId,
    publicKey: machine.publicKey,
    name: machine.name ?? null,
    read: machine.read,
    write: machine.write,
    lastSeen: machine.lastSeen ?? null,
    connected: connected.some(p => p.machineId === machine.machineId && p.state !== "closed"),
    schemas: schemas(machine.machineId),
  }))
  const others = connected
    .filter(p => !trusted.some(t => t.machineId === p.machineId))
    .map(p => ({
      machineId: p.machineId,
      publicKey: null,
      name: p.name ?? null,
      read: p.wants,
      write: null,
      lastSeen: p.lastSyncAt,
      connected: p.state !== "closed",
      schemas: schemas(p.machineId),
    }))
  return [...trusted, ...others, ...folderLinks(peer)]
}

export { NotFoundError }
