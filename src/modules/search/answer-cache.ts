// A short-lived cache of whole search answers: an in-process LRU (a few seconds, no I/O)
// in front of the shared KV (Redis: one computation per answer per TTL across all API
// processes), with one computation per key at a time per process. Shoppers search for
// the same things at the same time (a sale, a trend); a ranked, faceted answer costs tens
// of milliseconds of PostgreSQL, a cached one almost nothing.
//
// An answer is fresh for the TTL (jittered, so answers cached together do not expire
// together). For another TTL it is still served while one refresh runs in the background:
// latency stays flat when popular answers expire, and when search is down (breaker open)
// shoppers keep seeing slightly old results instead of errors. Failures are never cached.
//
// When the index changes (a product updated, deleted, in or out of stock), the worker says
// so on a KV channel once the change committed, and every answer computed before is stale
// at once: served once more while it is refreshed, not for the rest of its TTL.
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Kv } from '../../platform/kv/types.ts'
import { throttledWarn, type Logger } from '../../platform/telemetry/log.ts'

export interface AnswerCacheOptions {
  kv: Kv
  log: Logger
  /** How long an answer is fresh; it may be served for as long again while refreshed. 0: off. */
  ttlMs: number
  /** How long a process keeps an answer in memory (capped by ttlMs). */
  localTtlMs?: number
  maxEntries?: number
}

interface Stored {
  value: object
  freshUntil: number
  computedAt: number
}

const CHANGE_CHANNEL = 'search:index-changed'

export class AnswerCache {
  private readonly local: LRUCache<string, Stored> | null
  private readonly inflight = new Map<string, Promise<object>>()
  /** While Redis is down every search fails over: one warning per interval. */
  private readonly kvFailed: (fields: Record<string, unknown>) => void
  /** Answers computed before this (epoch ms) are stale: the index changed since. */
  private changedAt = 0
  private unsubscribe: (() => Promise<void>) | null = null
  /** Notices coalesce: while one is being sent, later changes make one more after it. */
  private announcing: Promise<void> | null = null
  private announceAgain = false

  constructor(private readonly options: AnswerCacheOptions) {
    this.kvFailed = throttledWarn(options.log, 'search answer cache: kv operation failed')
    const localTtl = Math.min(options.localTtlMs ?? 5_000, options.ttlMs)
    this.local = options.ttlMs > 0 && localTtl > 0 ? new LRUCache({ max: options.maxEntries ?? 5_000, ttl: localTtl }) : null
  }

  /** Listens for index changes (API processes). */
  async start(): Promise<void> {
    if (this.options.ttlMs <= 0 || this.unsubscribe) return
    this.unsubscribe = await this.options.kv.subscribe(CHANGE_CHANNEL, () => this.noteChange())
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.()
    this.unsubscribe = null
  }

  /**
   * The index changed (call once it committed): in this process at once, in the others
   * through the channel. A burst of changes sends a notice or two, not one each.
   */
  announceChange(): Promise<void> {
    this.noteChange()
    if (this.announcing) {
      this.announceAgain = true
      return this.announcing
    }
    this.announcing = (async () => {
      do {
        this.announceAgain = false
        await this.safely(() => this.options.kv.publish(CHANGE_CHANNEL, '1'))
      } while (this.announceAgain)
    })().finally(() => {
      this.announcing = null
    })
    return this.announcing
  }

  private noteChange(): void {
    this.changedAt = Date.now()
  }

  private isFresh(stored: Stored): boolean {
    return stored.freshUntil > Date.now() && (stored.computedAt ?? 0) >= this.changedAt
  }

  /** The cached answer for `parts`, or `compute()`'s (stored for next time). */
  async get<T extends object>(parts: unknown, compute: () => Promise<T>): Promise<T> {
    if (this.options.ttlMs <= 0) return compute()
    const key = `search:answer:${createHash('sha1').update(JSON.stringify(parts)).digest('base64url')}`
    const hit = this.local?.get(key)
    // Fresh, or stale while this process refreshes it.
    if (hit && (this.isFresh(hit) || this.inflight.has(key))) return hit.value as T
    return (await this.once(key, () => this.fill(key, compute))) as T
  }

  /** One computation per key at a time in this process. */
  private once(key: string, work: () => Promise<object>): Promise<object> {
    let pending = this.inflight.get(key)
    if (!pending) {
      const started: Promise<object> = work().finally(() => {
        if (this.inflight.get(key) === started) this.inflight.delete(key)
      })
      this.inflight.set(key, started)
      pending = started
    }
    return pending
  }

  private async fill(key: string, compute: () => Promise<object>): Promise<object> {
    const shared = await this.safely(() => this.options.kv.get(key))
    const stored = shared ? (JSON.parse(shared) as Stored) : null
    if (stored && this.isFresh(stored)) {
      this.local?.set(key, stored)
      return stored.value
    }
    if (stored) {
      // Stale: answer with it now, refresh behind it.
      this.local?.set(key, stored)
      this.inflight.delete(key)
      void this.once(key, () => this.refresh(key, compute)).catch((error: unknown) =>
        this.options.log.warn({ err: error }, 'search answer cache: refresh failed; serving the older answer'),
      )
      return stored.value
    }
    return this.refresh(key, compute)
  }

  private async refresh(key: string, compute: () => Promise<object>): Promise<object> {
    const computedAt = Date.now()
    const value = await compute()
    const ttl = Math.round(this.options.ttlMs * (0.9 + Math.random() * 0.2))
    const stored: Stored = { value, freshUntil: Date.now() + ttl, computedAt }
    this.local?.set(key, stored)
    await this.safely(() => this.options.kv.set(key, JSON.stringify(stored), { ttlMs: 2 * ttl }))
    return value
  }

  /** KV trouble only costs the shared tier, never the search. */
  private async safely<T>(operation: () => Promise<T>): Promise<T | null> {
    try {
      return await operation()
    } catch (error) {
      this.kvFailed({ err: error })
      return null
    }
  }
}
