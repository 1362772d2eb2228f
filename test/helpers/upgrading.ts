/**
 * What the schema evolution tests across processes share: two devices that
 * hold a document at one version and both upgrade while apart, and waiting
 * until two peers hold the same heads of a document.
 */
import { eventually, type PeerProcess } from "./PeerProcess.js"

/** Resolves once `a` and `b` hold the same heads of document `id`. */
export function sameHeads(a: PeerProcess, b: PeerProcess, id: string): Promise<boolean> {
  return eventually(async () => JSON.stringify(await a.call("heads", { id })) === JSON.stringify(await b.call("heads", { id })))
}

/**
 * Two peers in `dirs` at the older version share a document made from `data`, stop, and start again at the newer
 * version while apart (`start(dir)` at each version): two devices upgrading at once. Resolves with the upgraded pair.
 */
export async function shareThenUpgrade(
  dirs: [string, string],
  startOld: (dir: string) => Promise<PeerProcess>,
  startNew: (dir: string) => Promise<PeerProcess>,
  type: string,
  data: Record<string, unknown>,
): Promise<{ a: PeerProcess; b: PeerProcess; id: string }> {
  const [a, b] = await Promise.all(dirs.map(startOld))
  const id = await a!.call("create", { type, data })
  const { url } = await a!.call("listen")
  await b!.call("connect", { url })
  await eventually(async () => (await b!.call("entry", { id }))?.heads)
  await Promise.all([a!.stop(), b!.stop()])
  const [upgradedA, upgradedB] = await Promise.all(dirs.map(startNew))
  return { a: upgradedA!, b: upgradedB!, id }
}
