/**
 * Collaborative text inside a typed draft. Typing makes a change per
 * keystroke, so a splice must cost what Automerge's own does, whatever the
 * length of the text: the text is found, measured and edited by its object
 * id in Automerge's backend, and never read as a string unless the app asks
 * for its value. Reading it through the change proxy builds the whole
 * string (and so does anything that asks the proxy for a property's
 * descriptor: `Object.keys`, `in`), and making the proxies on the way to it
 * costs a lookup each. Edits that pass the proxy also pass its cache, so
 * every read here goes to the backend as well and never sees a stale copy.
 */
import * as A from "@automerge/automerge"
import type { Container } from "./draftContainer.js"
import { KIND, type Kinded } from "./draftContainer.js"

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

/** Throws RangeError when a splice of `deleteCount` characters at `index` does not fit a text of `length`. */
export function checkSplice(index: number, deleteCount: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index > length)
    throw new RangeError(`splice position ${index} is outside the text (length ${length})`)
  if (!Number.isInteger(deleteCount) || deleteCount < 0 || index + deleteCount > length)
    throw new RangeError(`cannot delete ${deleteCount} characters at ${index} from text of length ${length}`)
}

/** The object id of the text at `key` of `container` in the change whose root proxy is `root`, or undefined if no text is there. */
export function textAt(root: A.Doc<unknown>, container: Container, key: string | number): string | undefined {
  const address = container.address()
  if (address === undefined) return undefined
  let found: unknown[] | null | undefined
  try {
    found = A.getBackend(root).getWithType(address, key as string)
  } catch {
    // The container is not there (a map the document lacks): neither is the text.
    return undefined
  }
  return found?.[0] === "text" ? (found[1] as string) : undefined
}

/**
 * Text at `key` of `parent`, in the change whose root proxy is `root`. `id`
 * is its object id, where it exists; where it does not, `start` is what it
 * reads as and is created with on the first write.
 */
export function textDraft(root: A.Doc<unknown>, parent: Container, key: string | number, id: string | undefined, start = ""): DraftText {
  return new TextDraft(root, parent, key, id, start)
}

// A class, not an object literal with getters: one is made for every keystroke, and a literal's getters make it slow to build.
class TextDraft implements DraftText, Kinded {
  declare readonly [KIND]: "text"
  readonly #root: A.Doc<unknown>
  readonly #backend: ReturnType<typeof A.getBackend>
  readonly #parent: Container
  readonly #key: string | number
  readonly #start: string
  #id: string | undefined

  constructor(root: A.Doc<unknown>, parent: Container, key: string | number, id: string | undefined, start: string) {
    this.#root = root
    this.#backend = A.getBackend(root)
    this.#parent = parent
    this.#key = key
    this.#id = id
    this.#start = start
  }

  get value(): string {
    return this.#id === undefined ? this.#start : this.#backend.text(this.#id)
  }

  get length(): number {
    return this.#id === undefined ? this.#start.length : this.#backend.length(this.#id)
  }

  splice(index: number, deleteCount: number, insert?: string): void {
    checkSplice(index, deleteCount, this.length)
    if (deleteCount === 0 && !insert) return
    this.#backend.splice(this.#made(), index, deleteCount, insert ?? "")
  }

  set(text: string): void {
    this.#backend.updateText(this.#made(), text)
  }

  toString(): string {
    return this.value
  }

  /** The text's id, creating it (with `start`) if it is not there yet. */
  #made(): string {
    // Another draft of the same field may have made it in this change.
    this.#id ??= textAt(this.#root, this.#parent, this.#key)
    if (this.#id !== undefined) return this.#id
    this.#parent.make()[this.#key] = this.#start
    return (this.#id = textAt(this.#root, this.#parent, this.#key)!)
  }
}
Object.defineProperty(TextDraft.prototype, KIND, { value: "text" })
