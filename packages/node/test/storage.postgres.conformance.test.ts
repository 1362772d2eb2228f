import { describe } from "vitest"
import { registerCases } from "../../core/test/conformance/vitest.js"
import { storageConformance } from "../../core/test/conformance/storage.js"
import { pgStore } from "./conformance/pgStore.js"
import { POSTGRES_URL } from "./helpers/postgres.js"

describe.skipIf(!POSTGRES_URL)("PostgreSQL", () => {
  registerCases("storage conformance: PgStorage", storageConformance(pgStore()))
})
