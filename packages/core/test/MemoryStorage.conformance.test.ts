import { MemoryStorage } from "./helpers.js"
import { storageConformance } from "./conformance/storage.js"
import { registerCases } from "./conformance/vitest.js"

const inMemory = "MemoryStorage keeps nothing beyond the object's life: there is no disk to reopen, crash or damage"

registerCases(
  "storage conformance: MemoryStorage",
  storageConformance({
    cannot: {
      persist: inMemory,
      crash: inMemory,
      damage: inMemory,
      batch: "MemoryStorage saves one key at a time, as a third-party adapter does: the database then writes per key",
    },
    open: async () => ({ adapter: new MemoryStorage(), dispose: async () => {} }),
  }),
)
