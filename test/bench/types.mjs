// The document types the benchmarks use. Plain automerge-repo documents hold
// the same application data, with the type as an ordinary field.
import { defineType, f } from "@cairn/core"

export const Task = defineType("task", { fields: { title: f.string(), done: f.boolean().default(false) } })
export const Note = defineType("note", { fields: { body: f.text().default("") } })
/** Ten types with the same small shape (W4, W9). */
export const Kinds = Array.from({ length: 10 }, (_, i) =>
  defineType(`kind${i}`, { fields: { title: f.string(), done: f.boolean().default(false) } }),
)
export const types = [Task, Note, ...Kinds]
export const byName = new Map(types.map(type => [type.name, type]))
