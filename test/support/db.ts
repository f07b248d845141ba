// Test databases: a fresh, migrated database per test file. Against the real PostgreSQL
// server when DATABASE_URL is set (CI), against an in-memory embedded PGlite otherwise.
import { randomBytes } from 'node:crypto'
import { connectDb, type Sql } from '../../src/platform/db/index.ts'
import { startEmbeddedPostgres } from '../../src/platform/db/embedded.ts'
import { migrate } from '../../src/platform/db/migrate.ts'

export interface FreshDatabase {
  url: string
  sql: Sql
  /** True when this is a real PostgreSQL server rather than the embedded PGlite. */
  real: boolean
  close(): Promise<void>
}

export const realServers = Boolean(process.env.DATABASE_URL)

export async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const serverUrl = process.env.DATABASE_URL
  if (!serverUrl) {
    const embedded = await startEmbeddedPostgres(null)
    return { url: embedded.url, drop: () => embedded.stop() }
  }
  const name = `shop_test_${randomBytes(6).toString('hex')}`
  const admin = connectDb({ url: serverUrl, poolSize: 1 })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const admin = connectDb({ url: serverUrl, poolSize: 1 })
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}

export async function freshDatabase(options: { onQuery?: (text: string) => void } = {}): Promise<FreshDatabase> {
  const database = await createDatabase()
  const sql = connectDb({ url: database.url, poolSize: realServers ? 10 : 1, onQuery: options.onQuery })
  await migrate(sql)
  return {
    url: database.url,
    sql,
    real: realServers,
    async close() {
      await sql.end({ timeout: 5 })
      await database.drop()
    },
  }
}
