/**
 * `cairn schema check OLD.json NEW.json`: whether a new definition of a type
 * can run beside the old one (see core's schema/compatibility.ts), for a CI
 * to run before a release. Exit code 0 compatible, 1 needs a lens, 2
 * breaking; 3 when a definition cannot be read. Needs no data directory.
 */
import { readFile } from "node:fs/promises"
import { checkCompatibility, typeFromJSON, verdictExitCode, type CompatibilityReport, type TypeDefinitionJSON } from "@cairn/core"
import { table } from "./output.js"

/** A definition that could not be read or is not valid: exit code 3, kept apart from the verdicts. */
export class UnreadableDefinition extends Error {
  readonly exitCode = 3
}

/** A verdict other than compatible: the exit code says which; the report is already printed. */
export class IncompatibleSchema extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

async function readDefinition(path: string): Promise<TypeDefinitionJSON> {
  let text: string
  try {
    text = await readFile(path, "utf8")
  } catch (error) {
    throw new UnreadableDefinition(`cannot read ${path}: ${(error as Error).message}`)
  }
  try {
    // Through typeFromJSON: what is compared is a definition a peer would accept.
    return typeFromJSON(JSON.parse(text)).toJSON()
  } catch (error) {
    throw new UnreadableDefinition(`${path} is not a type definition: ${(error as Error).message}`)
  }
}

/** Print the report (JSON or a table) and fail with its verdict's exit code unless compatible. */
export async function schemaCheck(oldPath: string, newPath: string, json: boolean): Promise<void> {
  const report = checkCompatibility(await readDefinition(oldPath), await readDefinition(newPath))
  process.stdout.write(`${json ? JSON.stringify(report) : humanReport(report)}\n`)
  const code = verdictExitCode(report.verdict)
  if (code !== 0) throw new IncompatibleSchema(`${report.type} ${report.from} → ${report.to}: ${report.verdict}`, code)
}

function humanReport(report: CompatibilityReport): string {
  const lines = [`${report.type}: version ${report.from} → ${report.to}: ${report.verdict}`]
  for (const problem of report.problems) lines.push(`  ${problem}`)
  if (report.fields.length === 0) lines.push("no field changed")
  else
    lines.push(
      table(
        ["FIELD", "CHANGE", "VERDICT", "WHY"],
        report.fields.map(c => [c.path, c.change, c.lens ? "compatible (lens)" : c.verdict, c.reason]),
      ),
    )
  return lines.join("\n")
}
