// Types for the reliability runs: between them every field kind (string,
// number and boolean registers, counter, text, nested map, record, list of
// scalars, list of maps).
import { defineType, f } from "@cairn/core"

export const Task = defineType("task", {
  fields: {
    title: f.string(),
    done: f.boolean().default(false),
    prio: f.number().default(0),
    votes: f.counter(),
    notes: f.text().default(""),
    tags: f.list(f.string()),
    meta: f.record(f.string()),
  },
})

export const Note = defineType("note", {
  fields: {
    body: f.text(),
    pinned: f.boolean().default(false),
    votes: f.counter(),
    refs: f.list(f.string()),
  },
})

export const Board = defineType("board", {
  fields: {
    name: f.string(),
    votes: f.counter(),
    layout: f.map({ width: f.number(), title: f.string() }),
    scores: f.record(f.counter()),
    items: f.list(f.map({ label: f.string(), n: f.number() })),
  },
})

export const types = [Task, Note, Board]
export const typeNames = types.map(t => t.name)
