/** The two ways Cairn uses Web Locks: holding one for a tab's life, and waiting for another tab's to be let go. */

export interface HeldLock {
  release(): void
}

/**
 * Take an exclusive lock and hold it until `release()` (or the page goes
 * away). With `ifAvailable`, resolves to null at once if another tab holds
 * it; otherwise waits in line. An aborted wait rejects with AbortError.
 */
export function acquireLock(name: string, options: { ifAvailable?: boolean; signal?: AbortSignal } = {}): Promise<HeldLock | null> {
  return new Promise((resolve, reject) => {
    let release!: () => void
    const held = new Promise<void>(done => (release = done))
    // The Web Locks API refuses ifAvailable and signal together.
    const request: LockOptions = options.ifAvailable ? { ifAvailable: true } : options.signal ? { signal: options.signal } : {}
    navigator.locks
      .request(name, request, lock => {
        if (!lock) {
          resolve(null)
          return undefined
        }
        resolve({ release })
        return held
      })
      .catch(reject)
  })
}

/**
 * Call `then` once the tab holding the exclusive lock `name` lets it go,
 * which it does when it closes, crashes or navigates away. Stop waiting
 * with `signal`.
 */
export function whenReleased(name: string, signal: AbortSignal, then: () => void): void {
  navigator.locks.request(name, { mode: "shared", signal }, () => then()).catch(() => {})
}
