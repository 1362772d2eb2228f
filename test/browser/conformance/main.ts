// The page the browser conformance test drives: each suite, run here by the
// suites' own runner, its results handed back to the test.
import { runCases, type CaseResult } from "../../../packages/core/test/conformance/runner.js"
import { storageConformance } from "../../../packages/core/test/conformance/storage.js"
import { transportConformance } from "../../../packages/core/test/conformance/transport.js"
import { indexedDbStore, tabTransport } from "./subjects.js"

declare global {
  interface Window {
    conformance: Record<"indexedDb" | "tabs", () => Promise<CaseResult[]>>
  }
}

window.conformance = {
  indexedDb: () => runCases(storageConformance(indexedDbStore)),
  tabs: () => runCases(transportConformance(tabTransport)),
}
