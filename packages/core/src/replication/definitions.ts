/**
 * Type definitions exchanged at connect: each peer sends the peer it syncs
 * with its definitions of the types that peer may read or write (never the
 * name of a type it may not see), and each side compares them with its own.
 * A definition the other side cannot live with (a required field it lacks, a
 * rename, a kind change: what `cairn schema check` calls "needs a lens" or
 * "breaking") is reported, in the peer's status and as an event, so a person
 * learns at connect that an app on another device runs a version this one
 * cannot read, rather than from documents quarantined later. Syncing goes on:
 * each document is still checked on arrival, and what fails is quarantined,
 * not lost.
 */
import { checkCompatibility, type FieldChange, type Verdict } from "../schema/compatibility.js"
import { typeFromJSON, type TypeDefinition, type TypeDefinitionJSON } from "../schema/TypeDefinition.js"

/** At most this many definitions are taken from one peer; more is a protocol error. */
export const MAX_DEFINITIONS = 256

/** A type the other peer defines in a way this one's definition cannot live beside. */
export interface SchemaMismatch {
  type: string
  /** This peer's version of the type, and the other peer's. */
  localVersion: number
  remoteVersion: number
  verdict: Exclude<Verdict, "compatible">
  /** The fields that differ in a way that needs a lens or breaks, from the older version to the newer. */
  fields: FieldChange[]
  problems: string[]
}

/**
 * Compare the definitions a peer sent with ours. Definitions of types we
 * have none for are ignored (a relay stores such documents unchecked); a
 * definition that does not parse is a reason for the caller to report.
 */
export function compareDefinitions(
  local: (type: string) => TypeDefinition | undefined,
  remote: readonly unknown[],
): { mismatches: SchemaMismatch[]; problems: string[] } {
  const mismatches: SchemaMismatch[] = []
  const problems: string[] = []
  const seen = new Set<string>()
  for (const json of remote.slice(0, MAX_DEFINITIONS)) {
    let theirs: TypeDefinitionJSON
    try {
      theirs = typeFromJSON(json).toJSON()
    } catch (error) {
      problems.push(`definitions: ${(error as Error).message}`)
      continue
    }
    if (seen.has(theirs.name)) continue
    seen.add(theirs.name)
    const ours = local(theirs.name)?.toJSON()
    if (!ours) continue
    // From the older version to the newer: that is the step an app upgrade takes (equal versions: ours first).
    const [older, newer] = theirs.version < ours.version ? [theirs, ours] : [ours, theirs]
    const report = checkCompatibility(older, newer)
    if (report.verdict === "compatible") continue
    mismatches.push({
      type: theirs.name,
      localVersion: ours.version,
      remoteVersion: theirs.version,
      verdict: report.verdict,
      fields: report.fields.filter(field => field.verdict !== "compatible"),
      problems: report.problems,
    })
  }
  if (remote.length > MAX_DEFINITIONS) problems.push(`definitions: more than ${MAX_DEFINITIONS}`)
  return { mismatches, problems }
}

/** The definitions sent that are newer versions, with a lens chain back, of a type defined here (`local`). Invalid ones are skipped: compareDefinitions reports them. */
export function newerDefinitions(remote: readonly unknown[], local: (type: string) => TypeDefinition | undefined): TypeDefinition[] {
  const out: TypeDefinition[] = []
  for (const json of remote.slice(0, MAX_DEFINITIONS)) {
    let theirs: TypeDefinition
    try {
      theirs = typeFromJSON(json)
    } catch {
      continue
    }
    const ours = local(theirs.name)
    if (ours && theirs.version > ours.version && theirs.lensFrom(ours.origin.version).length > 0) out.push(theirs)
  }
  return out
}

/** One line for a person: which type, which versions, and why. */
export function describeMismatch(mismatch: SchemaMismatch, peer: string): string {
  const why = [...mismatch.fields.map(field => `${field.path} ${field.change}`), ...mismatch.problems].join("; ")
  return `${peer} defines ${mismatch.type} as version ${mismatch.remoteVersion}, this peer as version ${mismatch.localVersion}: ${mismatch.verdict} (${why})`
}
