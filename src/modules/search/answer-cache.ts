// A short-lived cache of whole search answers: an in-process LRU (a few seconds, no I/O)
// in front of the shared KV (Redis: one computation per answer per TTL across all API
// processes), with one computation per key at a time per process. Shoppers search for
// the same things at the same time (a sale, a trend); a ranked, faceted answer costs tens
// of milliseconds of PostgreSQL, a cached one almost nothing. Answers may be up to the
// TTL (plus the LRU's seconds) old; the index itself lags the catalog by a dispatch anyway.
// Failures are never cached.
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Kv } from '../../platform/kv/types.ts'
import type { Logger } from '../../platform/telemetry/log.ts'

export interface AnswerCacheOptions {
  kv: Kv
  log: Logger
  /** How long an answer is served from the KV; 0 turns the cache off. */
  ttlMs: number
  /** How long a process keeps an answer in memory (capped by ttlMs). */
  localTtlMs?: number
  maxEntries?: number
}

export class AnswerCache {
  private readonly local: LRUCache<string, { value: object }> | null
  private readonly inflight = new Map<string, Promise<object>>()

  constructor(private readonly options: AnswerCacheOptions) {
    const localTtl = Math.min(options.localTtlMs ?? 5_000, options.ttlMs)
    this.local = options.ttlMs > 0 && localTtl > 0 ? new LRUCache({ max: options.maxEntries ?? 5_000, ttl: localTtl }) : null
  }

  /** The cached answer for `parts`, or `compute()`'s (stored for next time). */
  async get<T extends object>(parts: unknown, compute: () => Promise<T>): Promise<T> {
    if (this.options.ttlMs <= 0) return compute()
    const key = `search:answer:${createHash('sha1').update(JSON.stringify(parts)).digest('base64url')}`
    const hit = this.local?.get(key)
    if (hit) return hit.value as T
    let pending = this.inflight.get(key)
    if (!pending) {
      pending = this.fill(key, compute).finally(() => this.inflight.delete(key))
      this.inflight.set(key, pending)
    }
    return pending as Promise<T>
  }

  private async fill(key: string, compute: () => Promise<object>): Promise<object> {
    const shared = await this.safely(() => this.options.kv.get(key))
    if (shared) {
      const value = JSON.parse(shared) as object
      this.local?.set(key, { value })
      return value
    }
    const value = await compute()
    this.local?.set(key, { value })
    await this.safely(() => this.options.kv.set(key, JSON.stringify(value), { ttlMs: this.options.ttlMs }))
    return value
  }

  /** KV trouble only costs the shared tier, never the search. */
  private async safely<T>(operation: () => Promise<T>): Promise<T | null> {
    try {
      return await operation()
    } catch (error) {
      this.options.log.warn({ err: error }, 'search answer cache: kv operation failed')
      return null
    }
  }
}
