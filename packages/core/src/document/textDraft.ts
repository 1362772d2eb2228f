/**
 * Collaborative text inside a typed draft. Typing makes a change per
 * keystroke, so a splice must cost what Automerge's own does, whatever the
 * length of the text: the text is measured and edited through Automerge's
 * backend at its path (or object id), and never read as a string unless the
 * app asks for its value. Reading it through the change proxy builds the
 * whole string (and so does anything that asks the proxy for a property's
 * descriptor: `Object.keys`, `in`), and making the proxies on the way to it
 * costs a lookup each. Edits that pass the proxy also pass its cache, so
 * every read here goes to the backend as well and never sees a stale copy.
 */
import * as A from "@automerge/automerge"
import { addressOf, type Container, KIND, type Kinded, type Proxied } from "./draftContainer.js"

/** Collaborative text inside a draft. */
export interface DraftText {
  readonly value: string
  readonly length: number
  /** Delete `deleteCount` characters at `index`, then insert `insert` there. */
  splice(index: number, deleteCount: number, insert?: string): void
  /** Replace the whole text, as a minimal diff of splices. */
  set(text: string): void
  toString(): string
}

/**
 * The length of the text last measured or spliced in a change (keyed by the
 * change's root proxy), so that a keystroke asks the backend once: to find
 * the text. Any other write in the change may move or replace that text,
 * so every one forgets it (see forgetTextLength).
 */
const lastLength = new WeakMap<object, { address: string; length: number }>()

/** A write other than a splice was made in the change: the remembered length may be wrong now. */
export function forgetTextLength(root: A.Doc<unknown>): void {
  lastLength.delete(root)
}

/** The object id of the text at `key` of `proxy` (a map or list of the change `root`), or undefined if no text is there. */
export function textIdAt(root: A.Doc<unknown>, proxy: Proxied, key: string | number): string | undefined {
  const found = A.getBackend(root).getWithType(A.getObjectId(proxy as A.Doc<unknown>) as string, key as string)
  return found?.[0] === "text" ? (found[1] as string) : undefined
}

/**
 * The backend's address of the text a definition declares at `key` of
 * `parent`, if it is there. Only for a declared text field: a document of
 * a type holds, at a text field, text or nothing (every change and every
 * document that arrives is checked against its definition).
 */
export function declaredTextAt(root: A.Doc<unknown>, parent: Container, key: string | number): string | undefined {
  const address = addressOf(parent.address(), key)
  if (address === undefined) return undefined
  try {
    lastLength.set(root, { address, length: A.getBackend(root).length(address) })
    return address
  } catch {
    // Not there (or a register where text was declared): the caller reads the value as usual.
    return undefined
  }
}

/**
 * Text at `key` of `parent`, in the change whose root proxy is `root`.
 * `address` is where the backend finds it (its object id or path), where
 * it exists; where it does not, `start` is what it reads as and is created
 * with on the first write.
 */
export function textDraft(root: A.Doc<unknown>, parent: Container, key: string | number, address: string | undefined, start = ""): DraftText {
  const backend = A.getBackend(root)
  let at = address
  const lengthOf = () => {
    if (at === undefined) return start.length
    const last = lastLength.get(root)
    return last?.address === at ? last.length : backend.length(at)
  }
  const read = () => (at === undefined ? start : backend.text(at))
  const made = (): string => {
    if (at !== undefined) return at
    const proxy = parent.make()
    // Another draft of the same field may have made it in this change.
    at = textIdAt(root, proxy, key)
    if (at !== undefined) return at
    forgetTextLength(root)
    proxy[key] = start
    return (at = textIdAt(root, proxy, key)!)
  }
  const draft: DraftText & Kinded = {
    [KIND]: "text",
    get value() {
      return read()
    },
    get length() {
      return lengthOf()
    },
    splice(index, deleteCount, insert) {
      const length = lengthOf()
      if (!Number.isInteger(index) || index < 0 || index > length)
        throw new RangeError(`splice position ${index} is outside the text (length ${length})`)
      if (!Number.isInteger(deleteCount) || deleteCount < 0 || index + deleteCount > length)
        throw new RangeError(`cannot delete ${deleteCount} characters at ${index} from text of length ${length}`)
      if (deleteCount === 0 && !insert) return
      const address = made()
      backend.splice(address, index, deleteCount, insert ?? "")
      // Automerge counts text in UTF-16 code units, as JavaScript strings do.
      lastLength.set(root, { address, length: length - deleteCount + (insert?.length ?? 0) })
    },
    set(text) {
      forgetTextLength(root)
      backend.updateText(made(), text)
    },
    toString() {
      return read()
    },
  }
  return draft
}
