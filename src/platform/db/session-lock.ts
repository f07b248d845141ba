import { connectDb } from './index.ts'

/**
 * Runs `work` while holding a PostgreSQL session advisory lock named `name`, on a connection
 * of its own: processes doing the same one-off work at the same moment (two `start`s on a
 * fresh database) do it one after the other, each seeing what the one before left. The lock
 * goes with its connection, so a process that dies mid-way frees it. `url` null (the
 * embedded database: one process per data folder) runs `work` as it is.
 */
export async function withSessionLock<T>(url: string | null, name: string, work: () => Promise<T>): Promise<T> {
  if (url === null) return work()
  const lock = connectDb({ url, poolSize: 1 })
  try {
    await lock`select pg_advisory_lock(hashtext(${name}))`
    return await work()
  } finally {
    await lock.end({ timeout: 5 })
  }
}
