import { createHash, randomBytes } from 'node:crypto'
import type { Db, Sql } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import { deleteBatch } from '../../platform/db/delete-batch.ts'
import type { Liveness } from '../../platform/liveness.ts'

const KEY_LIFE_HOURS = 24
// A `running` key this old belongs to a process that died mid-request, whatever the
// liveness keys say (a KV that cannot be asked, a key claimed before claims were recorded).
const ABANDONED_AFTER_SECONDS = 120

export interface StoredAnswer {
  status: number
  body: unknown
}

/** Who may claim keys: this process, and whether the process holding a claim is alive. */
export type KeyClaimer = Pick<Liveness, 'id' | 'isAlive'>

/**
 * What a claim found: a new key (go on, holding `claim`), a finished request (its answer),
 * or an order to answer from its current state (never place another): the request that
 * placed it died, or its charge outcome was unknown (202) and the order may have settled since.
 */
export type Claim =
  /** `replaced`: the claim of the dead request this one took the key over from. */
  | { kind: 'new'; claim: string; replaced?: string }
  | { kind: 'stored'; answer: StoredAnswer }
  /** `replaced`: the claim of the dead request this one took the key over from. */
  | { kind: 'resume'; orderId: string; accessToken?: string; replaced?: string }

/** The request's identity: the same fields in another order (a client that re-serializes) are the same request. */
export function requestHash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(canonical(parts))).digest('hex')
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
  )
}

const newClaim = (claimer: KeyClaimer) => `${claimer.id}/${randomBytes(9).toString('base64url')}`
/** The process a claim belongs to; null for a holder that is no request's claim (an order's, a merge's). */
export const processOf = (claim: string): string | null => (/^[^/:]+\/[A-Za-z0-9_-]+$/.test(claim) ? claim.slice(0, claim.indexOf('/')) : null)

/**
 * Claims an Idempotency-Key for one request. Answers the stored answer when the same
 * request already finished; refuses a different request under the same key (422) and a
 * retry while the first is still running (409, safe to retry). A running request whose
 * process is gone (crashed, killed) is taken over at once: the retry goes on with it.
 * `legacyHash`: the same request as an earlier version hashed it (a key stored before), asked only when the stored hash is not `hash`.
 */
export async function claimKey(sql: Sql, claimer: KeyClaimer, key: string, hash: string, legacyHash?: () => string): Promise<Claim> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const claim = newClaim(claimer)
    const inserted = await sql`
      insert into orders.idempotency_keys (key, request_hash, state, claim, expires_at)
      values (${key}, ${hash}, 'running', ${claim}, now() + ${KEY_LIFE_HOURS} * interval '1 hour')
      on conflict (key) do nothing returning key`
    if (inserted.length > 0) return { kind: 'new', claim }

    const [existing] = await sql<{ request_hash: string; state: string; response_status: number | null; response_body: unknown; order_id: string | null; claim: string | null; expired: boolean; overdue: boolean }[]>`
      select request_hash, state, response_status, response_body, order_id, claim, expires_at < now() as expired,
             updated_at < now() - ${ABANDONED_AFTER_SECONDS} * interval '1 second' as overdue
      from orders.idempotency_keys where key = ${key}`
    if (!existing) continue // released meanwhile: try the insert again
    if (existing.expired) {
      await sql`delete from orders.idempotency_keys where key = ${key} and expires_at < now()`
      continue
    }
    if (existing.request_hash !== hash && existing.request_hash !== legacyHash?.()) {
      throw new AppError('idempotency_conflict', 'This Idempotency-Key was used for a different request', {}, 422)
    }
    if (existing.state === 'done') return { kind: 'stored', answer: { status: existing.response_status!, body: existing.response_body } }
    if (existing.state === 'pending' && existing.order_id) return resumeOf(existing.order_id, existing.response_body)
    const owner = existing.claim === null ? null : processOf(existing.claim)
    const abandoned = existing.overdue || (owner !== null && !(await claimer.isAlive(owner)))
    if (abandoned) {
      // Taken over only from the claim that was read: of two retries racing, one wins. An
      // order the dead request placed (read again here: it may have committed meanwhile) is
      // resumed, never placed again.
      const [taken] = await sql<{ order_id: string | null; response_body: unknown }[]>`
        update orders.idempotency_keys set claim = ${claim}, updated_at = now()
        where key = ${key} and state = 'running' and claim is not distinct from ${existing.claim}
        returning order_id, response_body`
      const replaced = existing.claim !== null ? { replaced: existing.claim } : {}
      if (taken) return taken.order_id ? { ...resumeOf(taken.order_id, taken.response_body), ...replaced } : { kind: 'new', claim, ...replaced }
    }
    throw inProgress()
  }
  throw inProgress()
}

/** A guest's access token, which the order keeps only as a hash, is told again from the key. */
function resumeOf(orderId: string, body: unknown): Claim {
  const accessToken = (body as { accessToken?: string } | null)?.accessToken
  return { kind: 'resume', orderId, ...(accessToken && { accessToken }) }
}

const inProgress = () => new AppError('request_in_progress', 'A request with this Idempotency-Key is still running; retry shortly', { retryAfter: 1 }, 409)

/** The process of a revoked claim: no liveness key is ever named so (ids are 12 random characters), so a retry takes the key over at once. */
const REVOKED = 'revoked'

/**
 * Fences the running request holding `claim` (its process taken for dead) without a retry
 * of its own key: its claim is replaced by a revoked one, so should it only have been frozen,
 * it cannot tie an order to the key afterwards (attachOrder), and a retry with its key takes
 * the key over at once. Waits for an order transaction of that request in flight (the row
 * lock): once this returns, an order it placed is committed, or never will be.
 */
export async function revokeClaim(sql: Sql, claim: string): Promise<void> {
  await sql`
    update orders.idempotency_keys set claim = ${`${REVOKED}/${randomBytes(9).toString('base64url')}`}, updated_at = now()
    where claim = ${claim} and state = 'running'`
}

/**
 * Ties the key to the order it placed, in the order's transaction, with a guest order's
 * access token: should the request die before answering, the retry that resumes the order
 * tells the guest the token (the order keeps only its hash). The key's row goes after 24 h.
 * Only while `claim` still holds the key: a request taken for dead (a retry took the key
 * over) fails here, and its order rolls back with the transaction.
 */
export async function attachOrder(tx: Db, key: string, claim: string, orderId: string, accessToken?: string): Promise<void> {
  const body = accessToken ? tx.json({ accessToken } as never) : null
  const attached = await tx`update orders.idempotency_keys set order_id = ${orderId}, response_body = ${body}, updated_at = now() where key = ${key} and claim = ${claim} returning key`
  if (attached.length === 0) throw inProgress()
}

/**
 * The order's charge outcome is not known yet (202): each retry answers the order as it is
 * then, until it settles and finishKey stores the final answer. `db`: the settling transaction.
 */
export async function keepPending(db: Db, key: string, answer?: StoredAnswer): Promise<void> {
  const set = answer
    ? db`state = 'pending', response_status = ${answer.status}, response_body = ${db.json(answer.body as never)}, updated_at = now()`
    : db`state = 'pending', updated_at = now()`
  await db`update orders.idempotency_keys set ${set} where key = ${key} and state <> 'done'`
}

/**
 * Stores the final answer: every retry with this key gets it. `db`: the settling transaction.
 * `claim`: only while that claim holds the key (an answer before any order was placed; once
 * an order is tied to the key, every request under it answers that order).
 */
export async function finishKey(db: Db, key: string, answer: StoredAnswer, claim?: string): Promise<boolean> {
  const stored = await db`
    update orders.idempotency_keys
    set state = 'done', response_status = ${answer.status}, response_body = ${db.json(answer.body as never)}, updated_at = now()
    where key = ${key} ${claim === undefined ? db`` : db`and claim = ${claim}`}
    returning key`
  return stored.length > 0
}

/**
 * Deletes up to `batch` keys past their 24 hours; answers how many. A retry after that is a
 * new request, as the contract says: the key's stored answer may go.
 */
export async function purgeExpiredKeys(sql: Sql, batch = 5000): Promise<number> {
  return deleteBatch(sql, { table: 'orders.idempotency_keys', key: 'key', where: sql`expires_at < now()`, orderBy: sql`expires_at`, limit: batch })
}

/**
 * Forgets the key: the request did not change anything, so the same key may try again.
 * `claim`: only while that claim holds it (not a key a retry took over meanwhile).
 */
export async function releaseKey(sql: Db, key: string, options: { claim?: string } = {}): Promise<boolean> {
  const released = await sql`delete from orders.idempotency_keys where key = ${key} and state = 'running' ${options.claim === undefined ? sql`` : sql`and claim = ${options.claim}`} returning key`
  return released.length > 0
}

/**
 * A request's answer when the key is no longer its own (a retry took it over, taking this
 * one for dead): what it found (an empty cart, say) is not the key's answer; a retry gets
 * that one.
 */
export const supersededAnswer = () => inProgress()

/**
 * A merchant action (refund, cancel, fulfil) under an optional Idempotency-Key: a retry with
 * the key answers the first success again (the action's answer lost on the way: a refund
 * retried would otherwise answer 409, the order being refunded already). A refusal lets the
 * key go. Without a key the action just runs; it is safe to repeat anyway (the refund is
 * keyed at the gateway by the order).
 */
export async function onceWithKey<T>(sql: Sql, claimer: KeyClaimer, givenKey: string | undefined, identity: Record<string, unknown>, action: () => Promise<T>): Promise<T> {
  if (givenKey === undefined) return action()
  // Merchants' keys apart from shoppers': a shopper's checkout key that happens to equal one
  // (or that someone sends on purpose) never collides with a refund's. A '/' is in no key a
  // client may send (schemas.ts), so no checkout key can be one of these.
  const key = `merchant/${givenKey}`
  const claim = await claimKey(sql, claimer, key, requestHash(identity))
  // A merchant action never leaves a key pending: only a checkout's can be resumed.
  if (claim.kind === 'resume') throw new AppError('idempotency_conflict', 'This Idempotency-Key was used for a different request', {}, 422)
  if (claim.kind === 'stored') return claim.answer.body as T
  try {
    const answer = await action()
    await finishKey(sql, key, { status: 200, body: answer }, claim.claim)
    return answer
  } catch (error) {
    await releaseKey(sql, key, { claim: claim.claim }).catch(() => {})
    throw error
  }
}
