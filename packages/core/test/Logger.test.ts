import { describe, expect, it } from "vitest"
import { Logger, type LogEntry } from "../src/index.js"

describe("Logger", () => {
  it("names each entry by the namespace of the logger that wrote it", () => {
    const entries: LogEntry[] = []
    const root = new Logger(entry => entries.push(entry))
    root.child("network").child("tabs").info("a tab left")
    root.warn("disk full")
    expect(entries).toEqual([
      { level: "info", namespace: "network:tabs", message: "a tab left" },
      { level: "warn", namespace: "", message: "disk full" },
    ])
  })

  it("a log callback hears warnings and info, not debug, as the message alone", () => {
    const messages: string[] = []
    const logger = Logger.from(message => messages.push(message)).child("sync")
    logger.warn("stalled")
    logger.info("malformed")
    logger.debug("trace")
    expect(messages).toEqual(["stalled", "malformed"])
  })

  it("a logger passed where a log option is taken is used as it is", () => {
    const logger = new Logger(() => {})
    expect(Logger.from(logger)).toBe(logger)
  })

  it("warningsTo keeps the warnings only: a library's default when the app gave no log", () => {
    const warned: string[] = []
    const logger = Logger.warningsTo(message => warned.push(message)).child("storage")
    logger.warn("damaged record")
    logger.info("refused a peer")
    expect(warned).toEqual(["damaged record"])
  })
})
