import { createHash, randomUUID } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { AppError } from '../http/errors.ts'
import type { Kv } from '../kv/types.ts'
import { throttledWarn, type Logger } from '../telemetry/log.ts'
import type { Metrics } from '../telemetry/metrics.ts'

/** A cached answer, serialized once so that a hit costs no JSON work. */
export interface CachedBody {
  body: string | null // null: the thing does not exist (negative caching)
  etag: string
  source: 'lru' | 'kv' | 'db' | 'stale'
}

export interface TieredCacheOptions {
  name: string
  kv: Kv
  log: Logger
  metrics: Metrics
  /** Loads the serialized value from the system of record; null when it does not exist. */
  load: (key: string) => Promise<string | null>
  lruMax?: number
  lruTtlMs?: number
  kvTtlMs?: number
  negativeTtlMs?: number
  /** How long an emergency copy is kept for when PostgreSQL is down. */
  staleTtlMs?: number
  loadTimeoutMs?: number
  /** How long an invalidation waits for the other processes to confirm they dropped their copy. */
  ackTimeoutMs?: number
  /**
   * Called when this process drops its copy of a key: invalidated here, or by another process
   * (before this one confirms it). Caches derived from the same records drop theirs with it.
   */
  onForget?: (key: string) => void
}

/** An invalidation waiting for the other processes' confirmations. */
interface AckWait {
  received: number
  needed: number
  resolve: () => void
}

interface LruEntry {
  body: string | null
  etag: string
  freshUntil: number
}

const NOT_FOUND = '\u0000'
/** Keys whose last invalidation is remembered; past this the memory starts over. */
const MAX_REMEMBERED_INVALIDATIONS = 10_000
/** Invalidated keys whose KV copy waits for Redis to come back (see deleteKvCopy). */
const MAX_UNDELETED = 100_000
const UNDELETED_RETRY_MS = 1000
const MINUTE = 60_000

/**
 * Read-through cache in three tiers: in-process LRU (seconds) -> KV (minutes, jittered)
 * -> loader (PostgreSQL). One load per key at a time per process; misses are cached
 * briefly; when the loader fails, the last known copy is served. Invalidation deletes the
 * KV copy and tells every process (KV pub/sub) to drop its LRU copy.
 */
export class TieredCache {
  private readonly lru: LRUCache<string, LruEntry>
  private readonly inflight = new Map<string, Promise<CachedBody>>()
  /**
   * Per key, the invalidation count when it was last invalidated: a load begun before that
   * must not fill the caches. A count, not a clock: a load and an invalidation in the same
   * millisecond are still ordered.
   */
  private readonly invalidatedAt = new Map<string, number>()
  private invalidations = 0
  /** The count when invalidatedAt was last emptied (it is bounded): older loads count as changed. */
  private forgottenUpTo = 0
  private readonly unsubscribes: (() => Promise<void>)[] = []
  private readonly ackWaits = new Map<string, AckWait>()
  private ackSequence = 0
  /** KV copies an invalidation could not delete (Redis away): retried until they are gone. */
  private readonly undeleted = new Set<string>()
  private undeletedRetry: NodeJS.Timeout | null = null
  /** While Redis is down every miss fails over: one warning per interval, not one per read. */
  private readonly kvFailed: (fields: Record<string, unknown>) => void
  private readonly tooManyUndeleted: (fields: Record<string, unknown>) => void
  private readonly o: Required<TieredCacheOptions>
  /** Tags this process's invalidation messages, so it does not act on its own echo. */
  private readonly origin = randomUUID()

  constructor(options: TieredCacheOptions) {
    this.o = {
      lruMax: 100_000,
      lruTtlMs: 5_000,
      kvTtlMs: 30 * MINUTE,
      negativeTtlMs: 30_000,
      staleTtlMs: 24 * 60 * MINUTE,
      loadTimeoutMs: 2_000,
      ackTimeoutMs: 250,
      onForget: () => {},
      ...options,
    }
    // Entries outlive their freshness on purpose: a stale entry is the fallback while
    // PostgreSQL is down. Size bounds memory, freshUntil bounds staleness.
    this.lru = new LRUCache({ max: this.o.lruMax })
    this.kvFailed = throttledWarn(this.o.log, 'kv operation failed; reading through to the database')
    this.tooManyUndeleted = throttledWarn(this.o.log, 'too many invalidated KV copies wait for Redis; the rest expire on their own')
  }

  private get channel() {
    return `cache:${this.o.name}`
  }

  private kvKey(key: string) {
    return `${this.o.name}:${key}`
  }

  private staleKey(key: string) {
    return `${this.o.name}:${key}:stale`
  }

  /** Where the processes that dropped a key tell the one that invalidated it. */
  private ackChannel(origin: string) {
    return `${this.channel}:ack:${origin}`
  }

  async start(): Promise<void> {
    const { kv } = this.o
    this.unsubscribes.push(
      await kv.subscribe(this.channel, (message) => {
        const [origin, rest] = splitOnce(message, ' ')
        if (origin === this.origin) return
        const [ackId, key] = splitOnce(rest, ' ')
        this.forgetLocally(key)
        void this.safely(() => kv.publish(this.ackChannel(origin), ackId))
      }),
      await kv.subscribe(this.ackChannel(this.origin), (ackId) => {
        const wait = this.ackWaits.get(ackId)
        if (wait && ++wait.received >= wait.needed) wait.resolve()
      }),
    )
  }

  async stop(): Promise<void> {
    if (this.undeletedRetry) clearTimeout(this.undeletedRetry)
    await Promise.all(this.unsubscribes.splice(0).map((unsubscribe) => unsubscribe()))
  }

  /** Synchronous fast path: a fresh in-process copy, or undefined. */
  peek(key: string): CachedBody | undefined {
    const entry = this.lru.get(key)
    if (entry && entry.freshUntil > Date.now()) {
      this.o.metrics.cacheLookups.inc({ cache: this.o.name, tier: 'lru', result: 'hit' })
      return { body: entry.body, etag: entry.etag, source: 'lru' }
    }
    return undefined
  }

  async get(key: string): Promise<CachedBody> {
    const hit = this.peek(key)
    if (hit) return hit
    this.o.metrics.cacheLookups.inc({ cache: this.o.name, tier: 'lru', result: 'miss' })
    let pending = this.inflight.get(key)
    if (!pending) {
      const filling = this.fill(key).finally(() => {
        // An invalidation may have replaced this load with a newer one meanwhile.
        if (this.inflight.get(key) === filling) this.inflight.delete(key)
      })
      this.inflight.set(key, filling)
      pending = filling
    }
    return pending
  }

  /**
   * Drops the key everywhere, and answers once every process has: the KV copy now, every
   * other process's LRU through pub/sub, whose receivers confirm. So a read that follows the
   * update, in any process, sees it. A load racing the update may have written the old copy
   * back to the KV before its process heard of the update; the second delete, after the
   * confirmations, removes it (each process writes before it confirms, on one connection).
   * A process that does not confirm in time delays nothing further; the delete a second
   * later catches a late write there.
   */
  async invalidate(key: string): Promise<void> {
    this.forgetLocally(key)
    await this.deleteKvCopy(key)
    const others = await this.publishAndAwaitAcks(key)
    if (others > 0) await this.deleteKvCopy(key)
    setTimeout(() => void this.deleteKvCopy(key), 1000).unref()
  }

  /**
   * invalidate for many keys at once: their messages go out together and their confirmations
   * are awaited together, so a process that does not confirm costs the whole set one
   * ackTimeoutMs, not one per key (the worker drops a batch of stock changes' products: one
   * paused process slowed every event it delivers to about four a second).
   */
  async invalidateAll(keys: Iterable<string>): Promise<void> {
    await Promise.all([...new Set(keys)].map((key) => this.invalidate(key)))
  }

  /**
   * Deletes the KV copy; when Redis cannot be reached, keeps trying every second until it
   * can. Otherwise the old copy would outlive the outage (it lives kvTtlMs, 30 minutes) and
   * be served again once Redis is back. At most MAX_UNDELETED keys wait; past that the
   * rest are left to their TTL, and a warning says so.
   */
  private async deleteKvCopy(key: string): Promise<void> {
    if ((await this.safely(() => this.o.kv.del(this.kvKey(key)))) !== undefined) return
    if (this.undeleted.size >= MAX_UNDELETED) {
      this.tooManyUndeleted({ cache: this.o.name, key, waiting: this.undeleted.size })
      return
    }
    this.undeleted.add(key)
    this.retryUndeleted()
  }

  private retryUndeleted(): void {
    if (this.undeletedRetry || this.undeleted.size === 0) return
    this.undeletedRetry = setTimeout(async () => {
      const keys = [...this.undeleted]
      try {
        await this.o.kv.del(...keys.map((key) => this.kvKey(key)))
        for (const key of keys) this.undeleted.delete(key)
      } catch {
        // Still away: the next round tries again.
      }
      this.undeletedRetry = null
      this.retryUndeleted()
    }, UNDELETED_RETRY_MS)
    this.undeletedRetry.unref()
  }

  /** Tells the other processes; answers how many there were once they confirmed, or on timeout. */
  private async publishAndAwaitAcks(key: string): Promise<number> {
    const ackId = String(++this.ackSequence)
    // Registered before publishing: a confirmation may overtake the publish's own reply.
    const wait: AckWait = { received: 0, needed: Number.POSITIVE_INFINITY, resolve: () => {} }
    const confirmed = new Promise<void>((resolve) => (wait.resolve = resolve))
    this.ackWaits.set(ackId, wait)
    let timer: NodeJS.Timeout | undefined
    try {
      const receivers = await this.safely(() => this.o.kv.publish(this.channel, `${this.origin} ${ackId} ${key}`))
      // This process hears its own message once it has subscribed (start); it does not confirm.
      // (On Redis Cluster, PUBLISH counts only the subscribers of the node it reached: the
      // scale-out work moves these channels to sharded pub/sub, whose count is the whole.)
      wait.needed = (receivers ?? 0) - (this.unsubscribes.length > 0 ? 1 : 0)
      if (wait.needed <= 0) return 0
      if (wait.received >= wait.needed) return wait.needed
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.o.ackTimeoutMs)))
      if ((await Promise.race([confirmed, timedOut])) === 'timeout') {
        this.o.log.warn({ cache: this.o.name, key, needed: wait.needed, received: wait.received }, 'not every process confirmed an invalidation in time')
      }
      return wait.needed
    } finally {
      clearTimeout(timer)
      this.ackWaits.delete(ackId)
    }
  }

  private forgetLocally(key: string): void {
    this.o.onForget(key)
    this.invalidatedAt.set(key, ++this.invalidations)
    // A load begun before now would answer the old copy to whoever joins it.
    this.inflight.delete(key)
    const entry = this.lru.get(key)
    // Keep the body as an emergency copy, but never serve it as fresh again.
    if (entry) this.lru.set(key, { ...entry, freshUntil: 0 })
    if (this.invalidatedAt.size > MAX_REMEMBERED_INVALIDATIONS) {
      this.invalidatedAt.clear()
      this.forgottenUpTo = this.invalidations
    }
  }

  private async fill(key: string): Promise<CachedBody> {
    const startedAt = this.invalidations
    const fromKv = await this.safely(() => this.o.kv.get(this.kvKey(key)))
    if (fromKv !== null && fromKv !== undefined) {
      this.o.metrics.cacheLookups.inc({ cache: this.o.name, tier: 'kv', result: 'hit' })
      const body = fromKv === NOT_FOUND ? null : fromKv
      return this.remember(key, body, 'kv', startedAt)
    }
    this.o.metrics.cacheLookups.inc({ cache: this.o.name, tier: 'kv', result: 'miss' })

    let body: string | null
    try {
      body = await this.loadWithTimeout(key)
    } catch (error) {
      return this.staleOrFail(key, error)
    }
    this.o.metrics.cacheLookups.inc({ cache: this.o.name, tier: 'db', result: body === null ? 'miss' : 'hit' })
    if (!this.changedSince(key, startedAt)) {
      const ttlMs = body === null ? this.o.negativeTtlMs : jitter(this.o.kvTtlMs)
      await this.safely(() => this.o.kv.set(this.kvKey(key), body ?? NOT_FOUND, { ttlMs }))
      // The emergency copy follows the record: a record found gone (deleted) leaves none, or
      // an outage within its 24 hours served the deleted record again.
      if (body !== null) await this.safely(() => this.o.kv.set(this.staleKey(key), body, { ttlMs: this.o.staleTtlMs }))
      else await this.safely(() => this.o.kv.del(this.staleKey(key)))
    }
    return this.remember(key, body, 'db', startedAt)
  }

  private changedSince(key: string, startedAt: number): boolean {
    // A load begun before the map was emptied cannot know what it missed: it is not kept.
    return startedAt < this.forgottenUpTo || (this.invalidatedAt.get(key) ?? 0) > startedAt
  }

  private remember(key: string, body: string | null, source: CachedBody['source'], startedAt: number): CachedBody {
    const etag = etagOf(body)
    if (!this.changedSince(key, startedAt)) {
      this.lru.set(key, { body, etag, freshUntil: Date.now() + this.o.lruTtlMs })
    }
    return { body, etag, source }
  }

  private async loadWithTimeout(key: string): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        this.o.load(key),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.o.name} load timed out`)), this.o.loadTimeoutMs)
        }),
      ])
    } finally {
      clearTimeout(timer)
    }
  }

  private async staleOrFail(key: string, error: unknown): Promise<CachedBody> {
    const local = this.lru.get(key)
    const body = local?.body ?? (await this.safely(() => this.o.kv.get(this.staleKey(key))))
    if (body === null || body === undefined) {
      this.o.log.error({ err: error, key, cache: this.o.name }, 'load failed and no stale copy exists')
      throw new AppError('unavailable', 'This is unavailable right now; try again shortly')
    }
    this.o.log.warn({ err: error, key, cache: this.o.name }, 'load failed; serving a stale copy')
    this.o.metrics.cacheLookups.inc({ cache: this.o.name, tier: 'db', result: 'stale' })
    return { body, etag: etagOf(body), source: 'stale' }
  }

  /** KV trouble degrades to the next tier instead of failing the read. */
  private async safely<T>(operation: () => Promise<T>): Promise<T | undefined> {
    try {
      return await operation()
    } catch (error) {
      this.kvFailed({ err: error, cache: this.o.name })
      return undefined
    }
  }
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator)
  return at < 0 ? ['', text] : [text.slice(0, at), text.slice(at + 1)]
}

function jitter(ms: number): number {
  // +-10 %: keys cached together do not all expire together.
  return Math.round(ms * (0.9 + Math.random() * 0.2))
}

export function etagOf(body: string | null): string {
  return `"${createHash('sha1').update(body ?? '').digest('base64url').slice(0, 22)}"`
}
