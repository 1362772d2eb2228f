/**
 * Run `work` for every item with at most `limit` running at once. Reading
 * 10,000 documents with one `Promise.all` opens 10,000 IndexedDB
 * transactions together, and a write queues behind every one of them.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await work(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
