/**
 * `cairn`: a full Cairn peer from the shell. See `cairn --help`.
 *
 * Exit codes: 0 success, 1 runtime error, 2 usage error; `sync` exits 3 when
 * documents arrived and were quarantined, 4 when the other peer refused
 * changes made here. Errors go to stderr as one line starting "cairn: ".
 */
import { resolve } from "node:path"
import { Command, CommanderError, Option } from "commander"
import { DirectoryLockedError, LocalClient, LocalDatabase, NodePeer, parseTypeSelection } from "@cairn/node"
import { commands, type Request } from "./commands.js"
import { UsageError, errorLine, exitCodeOf } from "./errors.js"
import { readStdinText } from "./input.js"
import { humanOutput } from "./output.js"
import { serve, type ServeOptions } from "./serve.js"
import { schemaCheck } from "./schemaCheck.js"
import { watchChanges } from "./watch.js"

interface Global {
  data?: string
  json?: boolean
}

function dataDir(global: Global): string {
  return resolve(global.data ?? process.env.CAIRN_DATA ?? ".cairn")
}

function print(command: string, result: unknown, global: Global): void {
  if (global.json) process.stdout.write(JSON.stringify(result) + "\n")
  else {
    const format = humanOutput[command]
    const out = format ? format(result) : JSON.stringify(result, null, 2)
    if (out !== undefined) process.stdout.write(out + "\n")
  }
  if (command === "sync") reportSync(result as SyncReport)
}

interface SyncReport {
  denied: { id: string; type: string; reason: string }[]
  quarantined: { id: string; type: string; reason: string }[]
}

/**
 * A sync that did not deliver everything is an error: changes the other peer
 * refused (exit code 4; a quarantine found too is named in the same line) or
 * documents that arrived and were quarantined (exit code 3).
 */
function reportSync({ denied, quarantined }: SyncReport): void {
  const refusedPart = `the other peer refused this peer's changes to ${denied.length} document(s), which it neither applied nor passed on: ${denied.map(d => `${d.id} (${d.type}): ${d.reason}`).join("; ")}`
  const quarantinedPart = `${quarantined.length} document(s) arrived and were quarantined (see cairn quarantine): ${quarantined.map(d => `${d.id} (${d.type}): ${d.reason}`).join("; ")}`
  if (denied.length > 0) throw new SyncIncomplete(quarantined.length > 0 ? `${refusedPart}; and ${quarantinedPart}` : refusedPart, 4)
  if (quarantined.length > 0) throw new SyncIncomplete(quarantinedPart, 3)
}

class SyncIncomplete extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

/** How long a command waits for another command that holds the directory (with no server running) to finish. */
const WAIT_FOR_DIRECTORY_MS = 30_000

/**
 * The way to a data directory: the peer holding it, through its local
 * socket, when that peer runs `cairn` commands (`cairn serve` does: see
 * serve.ts), or the directory itself, opened here. Another process holding
 * it without serving commands (another command, an app) is waited for, as
 * are a server that is starting and one whose socket outlived it.
 */
async function reach(dir: string, open: () => Promise<NodePeer>): Promise<{ server: LocalDatabase } | { peer: NodePeer }> {
  const deadline = Date.now() + WAIT_FOR_DIRECTORY_MS
  for (;;) {
    const client = await LocalClient.connect(dir)
    if (client) {
      const server = await LocalDatabase.open(client).catch(() => undefined)
      if (server?.methods.includes("command")) return { server }
      await client.close()
    }
    try {
      return { peer: await open() }
    } catch (error) {
      if (!(error instanceof DirectoryLockedError) || Date.now() > deadline) throw error
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** Run one command: through a running server on the directory if there is one, else on the directory itself. */
async function run(command: string, args: string[], options: Record<string, unknown>, global: Global): Promise<void> {
  const dir = dataDir(global)
  // A folder is named from where the command runs, also when a server in another directory does the work.
  if (options.folder !== undefined) options.folder = resolve(String(options.folder))
  const body: Request = { command: command === "init" ? "whoami" : command, args, options, human: !global.json }
  if (command === "create" && args[1] === undefined) body.stdin = readStdinText()
  const showProgress = process.stdout.isTTY && !global.json
  const wants = command === "sync" && options.types !== undefined ? parseTypes(String(options.types)) : "*"
  // Only init names this machine: `trust --name` names the machine being trusted.
  const name = command === "init" && options.name ? { name: String(options.name) } : {}
  // One command holds the directory for a moment: it serves no app meanwhile (apps wait for it, as other commands do).
  const reached = await reach(dir, () => NodePeer.open({ dir, wants, ...name, localSocket: false }))
  if ("server" in reached) {
    const { server } = reached
    try {
      if (command === "init" && options.name) throw new UsageError("a server is running on this directory; stop it to rename the machine")
      return print(command, await server.request("command", body as unknown as Record<string, unknown>), global)
    } finally {
      await server.close()
    }
  }
  const { peer } = reached
  if (showProgress) body.progress = (done, total) => process.stderr.write(`\r${command}: ${done}/${total}`)
  try {
    if (command === "presence" && args[0] === "set")
      throw new UsageError("no cairn serve runs on this directory: a presence state is published by a running peer")
    const result = await commands[body.command]!(peer, body)
    if (showProgress && body.progress) process.stderr.write("\r\x1b[K")
    print(command, result, global)
  } finally {
    await peer.close()
  }
}

function parseTypes(text: string) {
  try {
    return parseTypeSelection(text)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

async function watch(options: { type?: string }, global: Global): Promise<void> {
  const dir = dataDir(global)
  const write = (event: unknown) => process.stdout.write(JSON.stringify(event) + "\n")
  // Listened for from the start: an interrupt while the directory is being reached ends the watch as cleanly as one after.
  const interrupted = new Promise<void>(resolve => {
    process.once("SIGINT", resolve)
    process.once("SIGTERM", resolve)
  })
  const reached = await reach(dir, () => NodePeer.open({ dir }))
  if ("server" in reached) {
    const { server } = reached
    watchChanges(server, options.type, write)
    // Until interrupted, or until the server stops.
    await Promise.race([interrupted, server.ended])
    await server.close()
    return
  }
  const { peer } = reached
  const stop = watchChanges(peer.db, options.type, write)
  // Nothing else keeps the event loop alive on a directory with no server: without this Node would exit at once.
  const keepAlive = setInterval(() => {}, 1 << 30)
  await interrupted
  clearInterval(keepAlive)
  stop()
  await peer.close()
}

export function program(): Command {
  const program = new Command("cairn")
    .description("Cairn: a local-first, typed document database. Every command works on a data directory (a peer).")
    .option("--data <dir>", "data directory (default: $CAIRN_DATA, else ./.cairn)")
    .option("--json", "print machine-readable JSON (one value; JSON lines for streams)")
    .exitOverride()
    .configureOutput({ writeErr: message => process.stderr.write(message.startsWith("error:") ? `cairn: ${message.slice(7)}` : message) })
  const global = (): Global => program.opts<Global>()
  const action =
    (name: string) =>
    async (...params: unknown[]) => {
      const command = params.at(-1) as Command
      const options = command.opts()
      const args = command.args
      await run(name, args, options, global())
    }
  const example = (command: Command, lines: string) => command.addHelpText("after", `\nExample:\n${lines}`)
  // Every write can say why it was made; `cairn history` shows it.
  const withMessage = (command: Command) => command.option("-m, --message <text>", "a message for the change, shown by cairn history")

  example(
    program
      .command("init")
      .description("create the data directory and this machine's identity (again: keeps the identity)")
      .option("--name <name>", "a name for this machine")
      .action(action("init")),
    "  cairn init --name laptop",
  )
  example(
    program
      .command("whoami")
      .description('this machine: its id, public key and name (--json: {"machineId", "publicKey", "name"})')
      .action(action("whoami")),
    "  cairn whoami --json",
  )
  example(
    withMessage(
      program
        .command("create")
        .argument("<type>")
        .argument("[json]")
        .description("create a document (JSON from the argument or stdin); prints its id"),
    ).action(action("create")),
    `  cairn create task '{"title": "Buy milk", "notes": {"$text": "oat"}, "votes": {"$counter": 0}}' -m "shopping list"`,
  )
  example(
    program
      .command("get")
      .argument("<id>")
      .option(
        "--at <hash>",
        "the document as it was at this change (a hash from cairn history, or a unique prefix of 4 or more characters)",
      )
      .description("a document: id, type, times, creator, and its data (tagged JSON, so kinds show; --json: plain JSON)")
      .action(action("get")),
    "  cairn get 2S7nW9…\n  cairn get 2S7nW9… --at 3f2a9c1b0d4e\n  cairn get 2S7nW9… --json",
  )
  example(
    program
      .command("ls")
      .description("documents, most recently modified first")
      .option("--type <type>", "only this type")
      .option("--deleted", "include deleted documents")
      .action(action("ls")),
    "  cairn ls --type task",
  )
  example(
    withMessage(program.command("set"))
      .argument("<id>")
      .argument("<path>")
      .argument("<value>")
      .option(
        "--force-kind",
        "replace the value even if VALUE is of another kind (a counter by a string, say); without it that is refused where no type definition says what the field is",
      )
      .description(
        'set a value at a dotted path (a.b.0.c); VALUE is tagged JSON if it parses ("s" a register, {"$text": "s"} text, {"$counter": 1} a counter), else a string',
      )
      .action(action("set")),
    "  cairn set 2S7nW9… title 'Buy oat milk' -m 'oat, not cow'\n  cairn set 2S7nW9… done true\n  cairn set 2S7nW9… votes '{\"$counter\": 0}'\n  cairn set 2S7nW9… votes 3 --force-kind      # a counter becomes a number register",
  )
  example(
    withMessage(program.command("unset").argument("<id>").argument("<path>").description("remove a map key or list item")).action(
      action("unset"),
    ),
    "  cairn unset 2S7nW9… tags.0",
  )
  example(
    withMessage(
      program
        .command("incr")
        .argument("<id>")
        .argument("<path>")
        .argument("[n]")
        .description("add N (default 1, may be negative) to a counter"),
    ).action(action("incr")),
    "  cairn incr 2S7nW9… votes -- -2",
  )
  example(
    withMessage(program.command("text"))
      .argument("<id>")
      .argument("<path>")
      .argument("[pos del str...]", "with --splice: position, characters to delete, text to insert")
      .option("--splice", "at POS delete DEL characters and insert STR")
      .description("edit collaborative text: cairn text ID PATH --splice POS DEL [STR]")
      .action(action("text")),
    "  cairn text 2S7nW9… notes --splice 0 0 'Hello '",
  )
  example(
    withMessage(
      program.command("rm").argument("<id>").description("delete a document (the delete replicates; cairn restore undoes it)"),
    ).action(action("rm")),
    "  cairn rm 2S7nW9… -m 'bought it'",
  )
  example(
    withMessage(program.command("restore").argument("<id>").description("undo a delete (cairn rm); the restore replicates")).action(
      action("restore"),
    ),
    "  cairn restore 2S7nW9… -m 'not bought after all'",
  )
  example(
    program
      .command("purge")
      .argument("<id>")
      .description(
        "drop a deleted document's body and history for good; a tombstone replicates, so the peers it syncs with drop theirs too; cannot be undone",
      )
      .action(action("purge")),
    "  cairn rm 2S7nW9… && cairn purge 2S7nW9…",
  )
  example(
    program
      .command("history")
      .argument("<id>")
      .description("changes of a document, oldest first: hash, time, machine, message (get --at HASH shows the document at one)")
      .action(action("history")),
    "  cairn history 2S7nW9…\n  cairn history 2S7nW9… --json",
  )
  example(
    program
      .command("watch")
      .description("print a JSON line per changed document (local or remote) until SIGINT/SIGTERM")
      .option("--type <type>", "only this type")
      .action((options: { type?: string }) => watch(options, global())),
    "  cairn watch --type task",
  )
  example(
    program
      .command("serve")
      .description('run a peer; first line on stdout: "listening on ws://H:P" (then "listening on tcp://H:P" with --tcp)')
      .option("--host <host>", "interface to bind", "127.0.0.1")
      .option("--port <port>", "port (0: any free port)", "3030")
      .option("--tcp <port>", "also listen for peers over TCP on this port (0: any free port); tcps:// with --tls-cert")
      .option("--types <types>", "types to keep: T1,T2 or *", "*")
      .option("--relay", "keep every type sent, without schemas")
      .option("--open", "accept any peer without authentication (local development)")
      .option("--insecure", "allow --open on a non-loopback --host")
      .option("--psk <secret>", "authenticate with a pre-shared key instead of the trust list")
      .option("--connect <url...>", "also connect to these peers (ws://, wss://, tcp:// or tcps:// URLs)")
      .option("--tls-cert <file>", "serve wss://, https:// (and tcps:// with --tcp) with this certificate (PEM)")
      .option("--tls-key <file>", "the certificate's private key (PEM)")
      .option("--name <name>", "a name for this machine")
      .option("--discover", "find peers on the local network (mDNS) and connect to the trusted ones; advertised unless on loopback")
      .addOption(new Option("--discover-interval <ms>", "how often discovery asks who is there").hideHelp())
      .option("--folder <dir>", "also keep syncing through this shared folder (Dropbox, Syncthing, a NAS share)")
      .option(
        "--store <url>",
        "keep documents, catalog, identity and trust list in PostgreSQL (postgres://USER@HOST:PORT/DB[?schema=NAME]); processes given one store form one relay",
      )
      .action((options: ServeOptions) => serve(dataDir(global()), options)),
    "  cairn serve --port 3030\n  cairn serve --open --port 0\n  cairn serve --port 3030 --tcp 3031\n  cairn --dir relay1 serve --relay --store postgres://cairn@127.0.0.1:5432/cairn",
  )
  example(
    program
      .command("sync")
      .argument("[url]")
      .description(
        "connect, sync both ways until in sync, then exit; exit code 3: documents arrived and were quarantined, 4: the other peer refused changes made here (no write grant)",
      )
      .option("--types <types>", "types to sync: T1,T2 or *")
      .option("--timeout <seconds>", "give up after this long", "30")
      .option("--folder <dir>", "sync once through this shared folder instead of with a URL")
      .action(action("sync")),
    "  cairn sync ws://127.0.0.1:3030 --json\n  cairn sync tcp://192.168.1.20:3031\n  cairn sync --folder ~/Dropbox/cairn",
  )
  example(
    program
      .command("export")
      .argument("<dir>")
      .description("one JSON file per document (kinds kept) and its history, plus a manifest; into an empty folder")
      .option("--force", "write into a folder that is not empty")
      .action(action("export")),
    "  cairn export ./backup",
  )
  example(
    withMessage(
      program
        .command("import")
        .argument("<dir>")
        .description(
          "import an export: the same documents, which sync with every other copy (again: changes nothing); -m goes on the changes it writes",
        ),
    ).action(action("import")),
    "  cairn import ./backup -m 'restored from the laptop backup'",
  )
  example(
    program.command("status").description("data directory, machine, documents per type, known peers").action(action("status")),
    "  cairn status",
  )
  example(
    program
      .command("trust")
      .argument("<publicKey>")
      .description("trust a machine: what it may read and write")
      .option("--name <name>")
      .option("--read <types>", "T1,T2 or *")
      .option("--write <types>", "T1,T2 or *")
      .action(action("trust")),
    "  cairn trust 5f1c… --name phone --read task,note --write task",
  )
  example(
    program
      .command("quarantine")
      .argument("[action]", "list (default), show, drop or release")
      .argument("[id]")
      .description("documents refused on arrival, and why: show one, drop it here, or release it (checked again)")
      .action(action("quarantine")),
    "  cairn quarantine\n  cairn quarantine release 2S7nW9…",
  )
  example(
    program.command("untrust").argument("<publicKey>").description("stop trusting a machine").action(action("untrust")),
    "  cairn untrust 5f1c…",
  )
  example(
    program
      .command("presence")
      .argument("[action]", "set: publish this machine's state (through the running cairn serve)")
      .argument("[state]", "the state, a JSON object of at most 4 KiB")
      .description("the machines that are up as far as this peer can see (through relays too), their states and links")
      .action(action("presence")),
    `  cairn presence --json\n  cairn presence set '{"status": "away"}'`,
  )
  const schema = program.command("schema").description("type definitions: check that a new version can run beside the old one")
  example(
    schema
      .command("check")
      .argument("<old>", "the old definition (JSON, as typeFromJSON reads it)")
      .argument("<new>", "the new definition")
      .description(
        "per field: compatible, needs a lens, or breaking; exit code 0 compatible, 1 needs a lens, 2 breaking, 3 a definition cannot be read",
      )
      .action((oldPath: string, newPath: string) => schemaCheck(oldPath, newPath, global().json ?? false)),
    "  cairn schema check task.v1.json task.v2.json\n  cairn schema check old.json new.json --json",
  )
  example(
    schema
      .command("list")
      .argument("[type]", "only this type")
      .description("the definitions stored here as documents (published here or synced): fields, versions, lenses, conflicts")
      .action(action("schema-list")),
    "  cairn schema list\n  cairn schema list task --json",
  )
  schema
    .command("publish")
    .description("store this peer's definitions (types.json) as documents, so peers without app code know them")
    .action(action("schema-publish"))
  example(
    program
      .command("peers")
      .description("trusted and connected machines, with when each was last seen")
      .option("--nearby", "machines found on the local network instead (name, machine id, address, trusted or not)")
      .option("--wait <seconds>", "with --nearby and no discovering `cairn serve`: how long to look", "3")
      .action(action("peers")),
    "  cairn peers --json\n  cairn peers --nearby",
  )
  return program
}

/** Parse and run; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const cli = program()
  if (argv.length === 0) {
    cli.outputHelp()
    return 0
  }
  try {
    await cli.parseAsync(argv, { from: "user" })
    return 0
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return 0
      return 2
    }
    process.stderr.write(errorLine(error) + "\n")
    return exitCodeOf(error)
  }
}

export { Option }
