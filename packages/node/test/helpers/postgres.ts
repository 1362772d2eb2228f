/**
 * The PostgreSQL server of the tests that need one: `CAIRN_TEST_POSTGRES`, a
 * URL to a role that may create schemas. `.ci/run` starts a throwaway one;
 * locally, `eval "$(test/helpers/postgres.sh start)"` does the same. Without
 * it those tests skip, except in CI, where a missing server is a failure.
 * Each test gets a schema of its own (`freshSchema`), dropped afterwards, so
 * tests never see each other's rows.
 */
import pg from "pg"

export const POSTGRES_URL = process.env.CAIRN_TEST_POSTGRES

export const HOW_TO_RUN = 'these tests need PostgreSQL: eval "$(test/helpers/postgres.sh start)" sets CAIRN_TEST_POSTGRES'

if (process.env.CI && !POSTGRES_URL) throw new Error(`CAIRN_TEST_POSTGRES is not set in CI: .ci/run must start PostgreSQL (${HOW_TO_RUN})`)
if (!POSTGRES_URL) console.warn(`skipping: ${HOW_TO_RUN}`)

let counter = 0

export interface TestSchema {
  /** The schema's name. */
  readonly schema: string
  /** CAIRN_TEST_POSTGRES with `?schema=` this schema, for `cairn serve --store`. */
  readonly url: string
  /** Drop the schema and everything in it. */
  drop(): Promise<void>
}

/** A schema no other test uses (created by the store on first use). */
export function freshSchema(): TestSchema {
  if (!POSTGRES_URL) throw new Error(HOW_TO_RUN)
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${counter++}`
  const url = new URL(POSTGRES_URL)
  url.searchParams.set("schema", schema)
  return {
    schema,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_URL })
      await client.connect()
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      } finally {
        await client.end()
      }
    },
  }
}
