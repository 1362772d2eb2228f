// Random edits of every field kind, as plain descriptions (so a run's trace
// can be printed and replayed) and how to apply one to a typed draft.
//
// Positions are drawn as fractions and resolved against the document when
// the edit is applied, so the draws a step makes never depend on what a
// peer happens to hold at that moment: the same seed makes the same choices.

/** Initial data for a new document of `type`. */
export function newData(rng, type) {
  const word = rng.word()
  switch (type) {
    case "task":
      return { title: word, notes: rng.word(0, 12), tags: [rng.word()], meta: { k0: rng.word() } }
    case "note":
      return { body: rng.word(0, 20) }
    case "board":
      // Every score key exists from the start: Automerge 3.5 can show a different winner for counters created
      // concurrently under one key (see RELIABILITY.md), so the fuzzer only ever increments them.
      return {
        name: word,
        layout: { width: rng.int(1, 9), title: rng.word() },
        scores: { k0: 0, k1: 0, k2: 0, k3: 0 },
        items: [{ label: rng.word(), n: rng.int(0, 9) }],
      }
    default:
      throw new Error(`no data for type ${type}`)
  }
}

/**
 * One random edit of a document of `type`. Draws the same number of values
 * whatever it picks. Given `sameAs` (another edit of the same type), it edits
 * the same field the same way, with its own values.
 */
export function newEdit(rng, type, sameAs) {
  const drawn = rng.next()
  const kind = sameAs?.kind ?? drawn
  const at = rng.next()
  const small = rng.int(-3, 6)
  const del = rng.int(0, 3)
  const word = rng.word(1, 5)
  const key = `k${rng.int(0, 3)}`
  const flag = rng.chance(0.5)
  const pickOf = options => ({ ...options[Math.floor(kind * options.length)], kind })
  switch (type) {
    case "task":
      return pickOf([
        { f: "title", op: "set", value: word },
        { f: "done", op: "set", value: flag },
        { f: "prio", op: "set", value: small },
        { f: "votes", op: "incr", by: small || 1 },
        { f: "votes", op: "incr", by: small || 1 },
        { f: "notes", op: "splice", at, del, text: word },
        { f: "notes", op: "splice", at, del, text: "" },
        { f: "tags", op: "push", value: word },
        { f: "tags", op: "insert", at, value: word },
        { f: "tags", op: "delete", at },
        { f: "tags", op: "setAt", at, value: word },
        { f: "meta", op: "setKey", key, value: word },
        { f: "meta", op: "deleteKey", key },
      ])
    case "note":
      return pickOf([
        { f: "body", op: "splice", at, del, text: word },
        { f: "body", op: "splice", at, del, text: word.toUpperCase() },
        { f: "pinned", op: "set", value: flag },
        { f: "votes", op: "incr", by: small || 1 },
        { f: "refs", op: "push", value: word },
        { f: "refs", op: "delete", at },
      ])
    case "board":
      return pickOf([
        { f: "name", op: "set", value: word },
        { f: "votes", op: "incr", by: small || 1 },
        { f: "layout", op: "setKey", key: "width", value: small },
        { f: "layout", op: "setKey", key: "title", value: word },
        { f: "scores", op: "incrKey", key, by: small || 1 },
        { f: "scores", op: "incrKey", key, by: -(small || 1) },
        { f: "items", op: "push", value: { label: word, n: small } },
        { f: "items", op: "setItem", at, value: small },
        { f: "items", op: "delete", at },
      ])
    default:
      throw new Error(`no edits for type ${type}`)
  }
}

/** Apply an edit to a draft of the document's data. */
export function applyEdit(draft, edit) {
  const target = draft[edit.f]
  const index = length => Math.min(length - 1, Math.floor(edit.at * length))
  switch (edit.op) {
    case "set":
      draft[edit.f] = edit.value
      return
    case "incr":
      target.increment(edit.by)
      return
    case "splice": {
      const i = Math.floor(edit.at * (target.length + 1))
      target.splice(i, Math.min(edit.del, target.length - i), edit.text)
      return
    }
    case "push":
      target.push(edit.value)
      return
    case "insert":
      target.insert(Math.floor(edit.at * (target.length + 1)), edit.value)
      return
    case "delete":
      if (target.length > 0) target.delete(index(target.length))
      return
    case "setAt":
      if (target.length > 0) target.set(index(target.length), edit.value)
      return
    case "setKey":
      target[edit.key] = edit.value
      return
    case "deleteKey":
      delete target[edit.key]
      return
    case "incrKey":
      target[edit.key].increment(edit.by)
      return
    case "setItem":
      if (target.length > 0) target.get(index(target.length)).n = edit.value
      return
    default:
      throw new Error(`unknown edit ${edit.op}`)
  }
}

/** The amount an edit adds to the document's top-level `votes` counter (checked after convergence). */
export function votesDelta(edit) {
  return edit.f === "votes" && edit.op === "incr" ? edit.by : 0
}
