/**
 * One logger for every part of a peer, with namespaces ("network",
 * "sync", "storage") so that a runtime can route or filter what each part
 * says. Levels: `warn` for what a user should see even when nobody asked
 * (storage damage, a stalled pull), `info` for protocol noise (refusals,
 * closed connections, malformed messages), `debug` for tracing.
 */

export type LogLevel = "warn" | "info" | "debug"

export interface LogEntry {
  readonly level: LogLevel
  /** Colon-separated, outermost first ("network:tabs"); empty at the root. */
  readonly namespace: string
  readonly message: string
}

/** Where a logger's entries go. */
export type LogSink = (entry: LogEntry) => void

/** The callback form of a `log` option: it hears warnings and info, as `log` options always have. */
export type LogCallback = (message: string) => void

export class Logger {
  /** Says nothing. */
  static readonly silent = new Logger(() => {})

  constructor(
    private readonly sink: LogSink,
    readonly namespace = "",
  ) {}

  /** The logger for a `log` option that takes either form: a logger as it is, a callback for warnings and info (debug is dropped). */
  static from(log: Logger | LogCallback): Logger {
    // Not `instanceof`: a runtime and its app may load two copies of this module.
    if (typeof log !== "function") return log
    return new Logger(entry => {
      if (entry.level !== "debug") log(entry.message)
    })
  }

  /**
   * A logger whose warnings go to `warn` and whose info and debug go
   * nowhere: what a library does when the app gave it no `log`.
   */
  static warningsTo(warn: LogCallback): Logger {
    return new Logger(entry => {
      if (entry.level === "warn") warn(entry.message)
    })
  }

  /** The same sink, under `name` within this logger's namespace. */
  child(name: string): Logger {
    return new Logger(this.sink, this.namespace ? `${this.namespace}:${name}` : name)
  }

  warn(message: string): void {
    this.sink({ level: "warn", namespace: this.namespace, message })
  }

  info(message: string): void {
    this.sink({ level: "info", namespace: this.namespace, message })
  }

  debug(message: string): void {
    this.sink({ level: "debug", namespace: this.namespace, message })
  }
}
