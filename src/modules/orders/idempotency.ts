import { createHash } from 'node:crypto'
import type { Db, Sql } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import { deleteBatch } from '../../platform/db/delete-batch.ts'

const KEY_LIFE_HOURS = 24
// A `running` key older than this belongs to a process that died mid-request: take it over.
const ABANDONED_AFTER_SECONDS = 120

export interface StoredAnswer {
  status: number
  body: unknown
}

/**
 * What a claim found: a new key (go on), a finished request (its answer), or a request that
 * died after placing its order (resume that order; never place another).
 */
export type Claim = { kind: 'new' } | { kind: 'stored'; answer: StoredAnswer } | { kind: 'resume'; orderId: string }

export function requestHash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex')
}

/**
 * Claims an Idempotency-Key for one request. Answers the stored answer when the same
 * request already finished; refuses a different request under the same key (422) and a
 * retry while the first is still running (409, safe to retry).
 */
export async function claimKey(sql: Sql, key: string, hash: string): Promise<Claim> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const inserted = await sql`
      insert into orders.idempotency_keys (key, request_hash, state, expires_at)
      values (${key}, ${hash}, 'running', now() + ${KEY_LIFE_HOURS} * interval '1 hour')
      on conflict (key) do nothing returning key`
    if (inserted.length > 0) return { kind: 'new' }

    const [existing] = await sql<{ request_hash: string; state: string; response_status: number | null; response_body: unknown; order_id: string | null; expired: boolean; abandoned: boolean }[]>`
      select request_hash, state, response_status, response_body, order_id, expires_at < now() as expired,
             (state = 'running' and updated_at < now() - ${ABANDONED_AFTER_SECONDS} * interval '1 second') as abandoned
      from orders.idempotency_keys where key = ${key}`
    if (!existing) continue // released meanwhile: try the insert again
    if (existing.expired) {
      await sql`delete from orders.idempotency_keys where key = ${key} and expires_at < now()`
      continue
    }
    if (existing.request_hash !== hash) {
      throw new AppError('idempotency_conflict', 'This Idempotency-Key was used for a different request', {}, 422)
    }
    if (existing.state === 'done') return { kind: 'stored', answer: { status: existing.response_status!, body: existing.response_body } }
    if (existing.abandoned) {
      const taken = await sql`
        update orders.idempotency_keys set updated_at = now()
        where key = ${key} and state = 'running' and updated_at < now() - ${ABANDONED_AFTER_SECONDS} * interval '1 second'
        returning key`
      if (taken.length > 0) return existing.order_id ? { kind: 'resume', orderId: existing.order_id } : { kind: 'new' }
    }
    throw new AppError('request_in_progress', 'A request with this Idempotency-Key is still running; retry shortly', {}, 409)
  }
  throw new AppError('request_in_progress', 'A request with this Idempotency-Key is still running; retry shortly', {}, 409)
}

/** Ties the key to the order it placed, in the order's transaction. */
export async function attachOrder(tx: Db, key: string, orderId: string): Promise<void> {
  await tx`update orders.idempotency_keys set order_id = ${orderId}, updated_at = now() where key = ${key}`
}

/** Still working on it (a resumed order not settled yet): retries wait ABANDONED_AFTER_SECONDS again. */
export async function touchKey(sql: Sql, key: string): Promise<void> {
  await sql`update orders.idempotency_keys set updated_at = now() where key = ${key} and state = 'running'`
}

/** Stores the final answer: every retry with this key gets it. `db`: the settling transaction. */
export async function finishKey(db: Db, key: string, answer: StoredAnswer): Promise<void> {
  await db`
    update orders.idempotency_keys
    set state = 'done', response_status = ${answer.status}, response_body = ${db.json(answer.body as never)}, updated_at = now()
    where key = ${key}`
}

/**
 * Deletes up to `batch` keys past their 24 hours; answers how many. A retry after that is a
 * new request, as the contract says: the key's stored answer may go.
 */
export async function purgeExpiredKeys(sql: Sql, batch = 5000): Promise<number> {
  return deleteBatch(sql, { table: 'orders.idempotency_keys', key: 'key', where: sql`expires_at < now()`, orderBy: sql`expires_at`, limit: batch })
}

/** Forgets the key: the request did not change anything, so the same key may try again. */
export async function releaseKey(sql: Sql, key: string): Promise<void> {
  await sql`delete from orders.idempotency_keys where key = ${key} and state = 'running'`
}
