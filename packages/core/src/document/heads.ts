import * as A from "@automerge/automerge"

/**
 * True when `doc` contains every change in `heads` (they are its heads or
 * older), applied. Automerge's `hasHeads` builds each change it finds, about
 * 55 µs a head for a small task here; asking which are missing costs about
 * 5 µs, and a server answering 50 peers asks it for every document they
 * offer, so `hasHeads` is asked only when something is missing. Something
 * missing that is not among `heads` is a dependency of a change held back
 * until it arrives: that change may be one of `heads` (a document whose older
 * chunks were lost holds its newest change unapplied), so it is not taken as
 * contained.
 */
export function containsHeads(doc: A.Doc<unknown>, heads: readonly string[]): boolean {
  if (heads.length === 0) return true
  const missing = A.getMissingDeps(doc, heads as A.Heads)
  if (missing.length === 0) return true
  return !missing.some(hash => heads.includes(hash)) && A.hasHeads(doc, heads as A.Heads)
}

/** A document's heads sorted, as the catalog lists them. */
export function sortedHeads(doc: A.Doc<unknown>): string[] {
  return [...A.getHeads(doc)].sort()
}

/** One string for a set of heads, whatever their order: two sets are the same when their keys are. */
export function headsKey(heads: readonly string[]): string {
  return [...heads].sort().join()
}

/** True when both lists name the same heads, in any order. */
export function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && headsKey(a) === headsKey(b)
}
