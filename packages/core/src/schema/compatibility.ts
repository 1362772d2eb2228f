/**
 * Whether two definitions of a type can work on the same documents at the
 * same time: an old app and a new one run side by side on different devices
 * for months, so a change must be judged both ways (can the new version read
 * what the old one writes, and the old what the new one writes?).
 *
 * Per field, a change is
 * - `compatible`: both versions read each other's documents as they are (a
 *   field that may be missing added or removed, a register's allowed values
 *   widened, a default changed);
 * - `needs a lens`: one version would find the other's documents invalid
 *   (a required field added or removed, a kind changed, allowed values
 *   narrowed): a declared conversion between the two shapes is needed;
 * - `breaking`: no conversion can be applied, because peers cannot tell the
 *   shapes apart (the version did not increase) or it is another type.
 *
 * The rules follow the validator (schema/values.ts): a missing field is valid
 * exactly when create could have left it out (`initialValue`).
 */
import type { FieldJSON } from "./fields.js"
import type { TypeDefinitionJSON } from "./TypeDefinition.js"
import { ValidationError } from "../errors.js"
import { chainOps, lensBackwardFields, lensPaths } from "./lenses.js"
import { initialValue } from "./values.js"

export type Verdict = "compatible" | "needs a lens" | "breaking"

export interface FieldChange {
  /** The field's path, e.g. `title`, `address.city`, `tags[]`. */
  path: string
  change: "added" | "removed" | "kind changed" | "values widened" | "values narrowed" | "now optional" | "now required" | "default changed"
  verdict: Verdict
  /** Why, in words a developer acts on. */
  reason: string
  /** True when the newer definition's lens is what makes it compatible. */
  lens?: true
}

export interface CompatibilityReport {
  type: string
  from: number
  to: number
  /** The worst verdict of all: what a release check acts on. */
  verdict: Verdict
  fields: FieldChange[]
  /** Problems of the definitions as a whole (name, version). */
  problems: string[]
}

const RANK: Record<Verdict, number> = { compatible: 0, "needs a lens": 1, breaking: 2 }

/** Exit code for a verdict: 0 compatible, 1 needs a lens, 2 breaking. */
export function verdictExitCode(verdict: Verdict): 0 | 1 | 2 {
  return RANK[verdict] as 0 | 1 | 2
}

/** Compare an old and a new definition of a type (their JSON forms, as `typeFromJSON` reads them). */
export function checkCompatibility(old: TypeDefinitionJSON, next: TypeDefinitionJSON): CompatibilityReport {
  const raw: FieldChange[] = []
  compareMaps(old.fields, next.fields, "", raw)
  const needsLens = raw.some(change => change.verdict !== "compatible")
  const fields = coverByLens(raw, old, next)
  const problems: string[] = []
  if (old.name !== next.name) problems.push(`the type's name changed from ${old.name} to ${next.name}: that is another type`)
  if (next.version < old.version) problems.push(`the version went down, from ${old.version} to ${next.version}`)
  else if (needsLens && next.version === old.version)
    problems.push(`a change needs a lens but the version stayed ${old.version}: peers tell the two shapes apart by it, so raise it`)
  const worst = Math.max(0, ...fields.map(change => RANK[change.verdict]), problems.length > 0 ? RANK.breaking : 0)
  return {
    type: next.name,
    from: old.version,
    to: next.version,
    verdict: (Object.keys(RANK) as Verdict[])[worst]!,
    fields,
    problems,
  }
}

/**
 * The changes that the newer definition's declared lens (from the older
 * version) covers become compatible: the older shape derived back through
 * the lens is compared with the older definition, and a change the lens
 * touches is covered when that comparison finds nothing wrong near it.
 */
function coverByLens(raw: FieldChange[], old: TypeDefinitionJSON, next: TypeDefinitionJSON): FieldChange[] {
  const ops = next.version > old.version ? chainOps(next.lenses ?? [], old.version, next.version) : undefined
  if (!ops || ops.length === 0) return raw
  const throughLens: FieldChange[] = []
  compareMaps(old.fields, lensBackwardFields(ops, next.fields), "", throughLens)
  const touched = lensPaths(ops).map(path => path.join("."))
  const related = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`) || a.startsWith(`${b}[`)
  return raw.map(change => {
    if (change.verdict === "compatible") return change
    const near = touched.filter(path => related(change.path, path))
    if (near.length === 0) return change
    const left = throughLens.find(other => other.verdict !== "compatible" && near.some(path => related(other.path, path)))
    if (left) return { ...change, reason: `${change.reason}; the declared lens does not cover it (${left.path}: ${left.reason})` }
    return { ...change, verdict: "compatible", lens: true, reason: `compatible with the declared lens (${change.reason})` }
  })
}

function compareMaps(old: Record<string, FieldJSON>, next: Record<string, FieldJSON>, prefix: string, out: FieldChange[]): void {
  for (const key of new Set([...Object.keys(old), ...Object.keys(next)])) {
    const path = prefix ? `${prefix}.${key}` : key
    const before = old[key]
    const after = next[key]
    if (before && after) compareFields(before, after, path, out)
    else if (after)
      out.push(
        mayBeMissing(after)
          ? {
              path,
              change: "added",
              verdict: "compatible",
              reason: "documents without it are valid (read with its default, if any); older peers keep it as it is",
            }
          : {
              path,
              change: "added",
              verdict: "needs a lens",
              reason: "a required field with no default or empty start: documents made by the old version lack it",
            },
      )
    else if (before)
      out.push(
        mayBeMissing(before)
          ? { path, change: "removed", verdict: "compatible", reason: "the old version may do without it; the new one keeps it as it is" }
          : {
              path,
              change: "removed",
              verdict: "needs a lens",
              reason: "the old version requires it, and documents made by the new one lack it",
            },
      )
  }
}

function compareFields(before: FieldJSON, after: FieldJSON, path: string, out: FieldChange[]): void {
  if (shapeOf(before) !== shapeOf(after)) {
    out.push({
      path,
      change: "kind changed",
      verdict: "needs a lens",
      reason: `${shapeOf(before)} became ${shapeOf(after)}: each version finds the other's value invalid without a conversion`,
    })
    return
  }
  if (before.kind === "map" && after.kind === "map") return compareMaps(before.fields, after.fields, path, out)
  if ((before.kind === "list" && after.kind === "list") || (before.kind === "record" && after.kind === "record"))
    return compareFields(before.of, after.of, `${path}[]`, out)
  if (before.kind === "register" && after.kind === "register") compareValues(before.values, after.values, path, out)
  if (mayBeMissing(before) !== mayBeMissing(after)) {
    out.push(
      mayBeMissing(after)
        ? { path, change: "now optional", verdict: "needs a lens", reason: "the old version requires it, and the new one may leave it out" }
        : { path, change: "now required", verdict: "needs a lens", reason: "documents made by the old version may lack it" },
    )
  } else if (JSON.stringify(defaultOf(before)) !== JSON.stringify(defaultOf(after))) {
    out.push({
      path,
      change: "default changed",
      verdict: "compatible",
      reason: "each version creates with its own default; a document without the field reads with each version's default",
    })
  }
}

function compareValues(
  before: readonly string[] | undefined,
  after: readonly string[] | undefined,
  path: string,
  out: FieldChange[],
): void {
  if (JSON.stringify(before) === JSON.stringify(after)) return
  const dropped = after === undefined ? [] : before === undefined ? ["any value"] : before.filter(value => !after.includes(value))
  if (dropped.length > 0)
    out.push({
      path,
      change: "values narrowed",
      verdict: "needs a lens",
      reason: `documents of the old version may hold ${dropped.map(v => JSON.stringify(v)).join(", ")}, which the new one refuses`,
    })
  else out.push({ path, change: "values widened", verdict: "compatible", reason: "every value the old version allows is still allowed" })
}

/** A field's kind as the validator sees it: the kind, and a register's scalar. */
function shapeOf(field: FieldJSON): string {
  return field.kind === "register" ? `a ${field.of} register` : `a ${field.kind}`
}

function defaultOf(field: FieldJSON): unknown {
  return "default" in field ? field.default : undefined
}

/** True when a document may lack the field: what `validateStored` accepts as missing. */
function mayBeMissing(field: FieldJSON): boolean {
  if (field.optional) return true
  try {
    initialValue(field, [])
    return true
  } catch (error) {
    if (error instanceof ValidationError) return false
    throw error
  }
}
