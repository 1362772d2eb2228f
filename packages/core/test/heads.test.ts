import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { headsKey, sameHeads, sortedHeads } from "../src/index.js"

describe("heads", () => {
  it("compares sets of heads whatever their order, and sorts a document's heads as the catalog lists them", () => {
    const base = A.from({ n: 1 })
    const left = A.change(A.clone(base, { actor: "aa".repeat(16) }), doc => (doc.n = 2))
    const right = A.change(A.clone(base, { actor: "bb".repeat(16) }), doc => (doc.n = 3))
    const merged = A.merge(left, right)
    const heads = A.getHeads(merged)
    expect(heads.length).toBe(2)
    expect(sortedHeads(merged)).toEqual([...heads].sort())
    expect(headsKey([heads[1]!, heads[0]!])).toBe(headsKey(heads))
    expect(sameHeads([heads[1]!, heads[0]!], heads)).toBe(true)
    expect(sameHeads([heads[0]!], heads)).toBe(false)
    expect(sameHeads(A.getHeads(left), A.getHeads(right))).toBe(false)
  })
})
