import { registerCases } from "../../core/test/conformance/vitest.js"
import { storageConformance } from "../../core/test/conformance/storage.js"
import { logStore, repoStore } from "./conformance/logStores.js"

registerCases("storage conformance: LogStorageAdapter", storageConformance(logStore("LogStorageAdapter")))
registerCases("storage conformance: openStorage (a peer's two logs)", storageConformance(logStore("openStorage")))
registerCases("storage conformance: storageForRepo over openStorage", storageConformance(repoStore()))
