/**
 * The key-value store the domains see: Redis in production, an in-process map in the
 * embedded default. Both adapters pass the same contract tests (kv.contract.test.ts).
 *
 * Keys are given without the INSTANCE prefix; the adapter adds it. A key that must share a
 * Redis Cluster slot with another (a multi-key script) puts the shared part in braces:
 * `cart:{abc}:lines`, `cart:{abc}:meta`.
 */
export interface Kv {
  get(key: string): Promise<string | null>
  /** Sets a value; with `ifAbsent` only when the key does not exist. Answers whether it was set. */
  set(key: string, value: string, options?: { ttlMs?: number; ifAbsent?: boolean }): Promise<boolean>
  del(...keys: string[]): Promise<number>
  /** Adds `by` and answers the new value; a new counter gets `ttlMs` as its life. */
  incr(key: string, by?: number, ttlMs?: number): Promise<number>
  expire(key: string, ttlMs: number): Promise<boolean>
  /** Remaining life in ms; -1 when the key has no expiry, -2 when it does not exist. */
  ttl(key: string): Promise<number>

  hget(key: string, field: string): Promise<string | null>
  hgetall(key: string): Promise<Record<string, string>>
  hset(key: string, fields: Record<string, string>): Promise<void>
  /** Atomic: concurrent increments of one field never lose an update. */
  hincrby(key: string, field: string, by: number): Promise<number>
  hdel(key: string, ...fields: string[]): Promise<number>
  hlen(key: string): Promise<number>
  /**
   * Atomic guarded increment: adds `by` to a hash field only when the result stays within
   * [min, max] and, for a field the hash does not hold yet, the hash has fewer than
   * `maxFields` fields; otherwise nothing changes. When applied, `ttlMs` renews the key's
   * life, and the same step writes `alsoSet` and renews the keys in `renew`. With min = max =
   * target it is a compare-and-set. Answers the field's value after the call (0 for an absent
   * field) and, when refused, why.
   */
  hincrbyWithin(key: string, field: string, by: number, options: HashIncrementOptions): Promise<HashIncrementResult>
  /**
   * Atomic: takes each amount off its field of the hash; a field that would reach 0 or less
   * is deleted instead, and so is the same field of `alsoDeleteFrom` (same hash tag). Fields
   * the hash does not hold are left alone, and no key is created. Answers whether it was
   * applied ('applied'), skipped as done before ('done before', `once`) or refused while
   * `unless` exists ('held').
   */
  hsubtractOrDelete(key: string, amounts: Record<string, number>, options?: HashSubtractOptions): Promise<HashSubtractResult>
  /**
   * Atomic: sets the key to `holder` for `ttlMs` when it is absent, already holds `holder`,
   * or holds `replacing` (a claim taken over from a holder known to be gone). Answers
   * whether `holder` has it now.
   */
  claim(key: string, holder: string, ttlMs: number, replacing?: string): Promise<boolean>
  /** Atomic: deletes the key only while it holds `value` (a claim let go by its holder only). Answers whether it did. */
  delIfEquals(key: string, value: string): Promise<boolean>

  /** Answers how many subscribers received the message (Redis: subscribed connections). */
  publish(channel: string, message: string): Promise<number>
  /** Answers a function that ends the subscription. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>

  ping(): Promise<void>
  close(): Promise<void>
}

export interface HashIncrementOptions {
  min?: number
  max?: number
  maxFields?: number
  /** When applied: the new life of the key and of every key in `renew`. */
  ttlMs?: number
  /**
   * When applied: more keys whose life `ttlMs` renews. They share the key's hash tag, so the
   * one script stays in one Redis Cluster slot.
   */
  renew?: string[]
  /** When applied: fields written into another hash (same hash tag) in the same atomic step. */
  alsoSet?: { key: string; fields: Record<string, string> }
  /**
   * Only while this key (same hash tag) exists: the record the hash belongs to (a cart's
   * meta). Gone, nothing is written and the answer is refused 'gone', so a write racing the
   * record's removal neither succeeds into nothing nor leaves an orphan hash behind.
   */
  requires?: string
  /**
   * Not while this key (same hash tag) exists: refused 'held', nothing written. A cart's
   * checkout claim: a line is not lowered while what it held is being bought.
   */
  unless?: string
}

export interface HashSubtractOptions {
  /** The same fields of this hash (same hash tag) go when theirs reach 0. */
  alsoDeleteFrom?: string
  /**
   * At most once per `id`: the step is skipped when the set at `key` (same hash tag) holds
   * `id` already, and records it otherwise (the set lives `ttlMs`). Two takers of one
   * order's lines (checkout, and the worker after a crash) then take them once.
   */
  once?: { key: string; id: string; ttlMs: number }
  /** Not while this key (same hash tag) exists: answered 'held', nothing written (and `once` not recorded). */
  unless?: string
}

export type HashSubtractResult = 'applied' | 'done before' | 'held'

export type HashIncrementResult =
  | { applied: true; value: number }
  | { applied: false; value: number; refused: 'range' | 'fields' | 'gone' | 'held' }

/**
 * The store could not be reached or did not answer in time, as opposed to refusing a
 * command. A retry may succeed; the HTTP layer answers 503 with Retry-After.
 */
export class KvUnavailable extends Error {
  override name = 'KvUnavailable'
  readonly code = 'KV_UNAVAILABLE'
}
