/**
 * What every part of a typed draft (see draft.ts) stands on: the Automerge
 * map or list it edits, which may not exist yet, and the mark that says
 * which kind of value a draft object stands for.
 */
import * as A from "@automerge/automerge"
import type { TaggedKind } from "../schema/values.js"

export type Proxied = Record<string | number, unknown>

/** Every draft object says which kind of value it stands for (see kindOfDraftValue in draft.ts). */
export const KIND = Symbol("cairn.draftKind")

export type Kinded = { readonly [KIND]: TaggedKind }

/**
 * A map or list of the change, or one the document lacks that a write would
 * create: a field the definition fills in (see withDefaults) reads as
 * its default until a change writes to it, and only then is it written.
 */
export interface Container {
  /** The container's Automerge proxy, or undefined while it does not exist. */
  get(): Proxied | undefined
  /** The proxy, creating the container (and every missing map above it) if needed. */
  make(): Proxied
  /**
   * Where Automerge's backend finds the container without its proxy being
   * made (its object id, or a path from the document's root), or undefined
   * where no such path can be written. It may not exist there yet.
   */
  address(): string | undefined
}

export const existing = (proxy: Proxied): Container => ({
  get: () => proxy,
  make: () => proxy,
  address: () => A.getObjectId(proxy as A.Doc<unknown>) ?? undefined,
})

/** A document's `data` map in a change (`root`, the change's root proxy), its proxy made only when something reads or writes through it. */
export function dataContainer(root: A.Doc<unknown>): Container {
  let proxy: Proxied | undefined
  const get = () => (proxy ??= (root as unknown as Proxied).data as Proxied)
  return { get, make: get, address: () => "_root/data" }
}

/** The backend's path to `key` inside the container at `address`: an empty key, or one with a "/", cannot be written in one. */
export function addressOf(address: string | undefined, key: string | number): string | undefined {
  return address === undefined || key === "" || String(key).includes("/") ? undefined : `${address}/${key}`
}

/** The container at `key` of `parent`: `initial` is what a write stores there when it is missing. */
export function childContainer(parent: Container, key: string | number, initial: () => unknown): Container {
  return {
    get: () => parent.get()?.[key] as Proxied | undefined,
    make: () => {
      const proxy = parent.make()
      if (proxy[key] === undefined) proxy[key] = initial()
      return proxy[key] as Proxied
    },
    address: () => addressOf(parent.address(), key),
  }
}
