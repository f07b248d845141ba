// Housekeeping's delete: one bounded batch of rows, so that trimming a table that only grows
// never holds locks or writes WAL for long (the caller repeats it until it answers 0).
import type postgres from 'postgres'
import type { Db } from './index.ts'

export interface DeleteBatch {
  /** Schema-qualified table, e.g. 'platform.outbox'. */
  table: string
  /** Its primary key column. */
  key: string
  /** Which rows may go. */
  where: postgres.PendingQuery<postgres.Row[]>
  /** Oldest first, when it matters which ones go first. */
  orderBy?: postgres.PendingQuery<postgres.Row[]>
  limit: number
}

/**
 * Deletes up to `limit` rows matching `where`; answers how many. The rows are picked first
 * and deleted by primary key (`= any(array(...))`): with `in (...)` the planner hashes the
 * batch and scans the whole table for it.
 */
export async function deleteBatch(db: Db, batch: DeleteBatch): Promise<number> {
  const [table, key] = [db(batch.table), db(batch.key)]
  const rows = await db`
    delete from ${table} where ${key} = any(array(
      select ${key} from ${table} where ${batch.where} ${batch.orderBy ? db`order by ${batch.orderBy}` : db``} limit ${batch.limit}))
    returning 1`
  return rows.length
}
