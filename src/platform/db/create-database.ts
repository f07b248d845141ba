import { connectDb } from './index.ts'

/**
 * Creates the database DATABASE_URL names when the server has none of that name (`start` and
 * `migrate` on a fresh server: `createdb` is one step nobody expects to need). Connects to
 * the server's `postgres` database to do it; answers whether it created one. A role without
 * CREATEDB gets PostgreSQL's own refusal, which names the database.
 */
export async function createDatabaseIfMissing(url: string): Promise<boolean> {
  const target = new URL(url)
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''))
  if (name === '' || name === 'postgres') return false
  const server = new URL(url)
  server.pathname = '/postgres'
  const admin = connectDb({ url: server.toString(), poolSize: 1 })
  try {
    const [found] = await admin`select 1 from pg_database where datname = ${name}`
    if (found) return false
    // An identifier cannot be a parameter: quoted, its double quotes doubled.
    await admin.unsafe(`create database "${name.replaceAll('"', '""')}"`).catch((error: { code?: string }) => {
      if (error.code !== '42P04') throw error // created meanwhile by another process: fine
    })
    return true
  } finally {
    await admin.end({ timeout: 5 })
  }
}
