import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Sql } from './index.ts'

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url))
// Any constant works: it only has to be the same in every process that migrates.
const MIGRATION_LOCK = 72_007_001

/** The migration files in `dir`, in the order they apply. */
const migrationFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()

/**
 * The migrations in `dir` this database has not applied yet (all of them on a database never
 * migrated): an api or worker process started before `migrate` answers not ready instead of
 * 500 on every request.
 */
export async function pendingMigrations(sql: Sql, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = migrationFiles(dir)
  const [{ known }] = await sql<{ known: boolean }[]>`select to_regclass('platform.migrations') is not null as known`
  if (!known) return files
  const done = new Set((await sql<{ name: string }[]>`select name from platform.migrations`).map((r) => r.name))
  return files.filter((file) => !done.has(file))
}

/**
 * Applies migrations/NNN_<module>_<what>.sql in name order, each in its own transaction,
 * once. Each module's files create and change only that module's schema.
 */
export async function migrate(sql: Sql, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = migrationFiles(dir)
  const applied: string[] = []
  await sql.begin(async (tx) => {
    // A migration may rewrite a big table: no statement timeout (the pool's is for requests).
    await tx`set local statement_timeout = 0`
    // Transaction-scoped lock: two processes starting together migrate one after the other.
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx`create schema if not exists platform`
    await tx`create table if not exists platform.migrations (name text primary key, applied_at timestamptz not null default now())`
    const done = new Set((await tx<{ name: string }[]>`select name from platform.migrations`).map((r) => r.name))
    for (const file of files) {
      if (done.has(file)) continue
      await tx.unsafe(readFileSync(join(dir, file), 'utf8')).simple()
      await tx`insert into platform.migrations (name) values (${file})`
      applied.push(file)
    }
  })
  return applied
}
