import { createHash, randomUUID } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { AppError } from '../http/errors.ts'
import type { Kv } from '../kv/types.ts'
import type { Logger } from '../telemetry/log.ts'
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
}

interface LruEntry {
  body: string | null
  etag: string
  freshUntil: number
}

const NOT_FOUND = '\u0000'
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
  /** Per key, when it was last invalidated: a load begun before that must not fill the LRU. */
  private readonly invalidatedAt = new Map<string, number>()
  private unsubscribe: (() => Promise<void>) | null = null
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
      ...options,
    }
    // Entries outlive their freshness on purpose: a stale entry is the fallback while
    // PostgreSQL is down. Size bounds memory, freshUntil bounds staleness.
    this.lru = new LRUCache({ max: this.o.lruMax })
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

  async start(): Promise<void> {
    this.unsubscribe = await this.o.kv.subscribe(this.channel, (message) => {
      const [origin, key] = splitOnce(message, ' ')
      if (origin !== this.origin) this.forgetLocally(key)
    })
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.()
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
      pending = this.fill(key).finally(() => this.inflight.delete(key))
      this.inflight.set(key, pending)
    }
    return pending
  }

  /** Drops the key everywhere: KV now and again shortly (a load racing the update), every LRU via pub/sub. */
  async invalidate(key: string): Promise<void> {
    this.forgetLocally(key)
    await this.safely(() => this.o.kv.del(this.kvKey(key)))
    await this.safely(() => this.o.kv.publish(this.channel, `${this.origin} ${key}`))
    setTimeout(() => void this.safely(() => this.o.kv.del(this.kvKey(key))), 1000).unref()
  }

  private forgetLocally(key: string): void {
    this.invalidatedAt.set(key, Date.now())
    const entry = this.lru.get(key)
    // Keep the body as an emergency copy, but never serve it as fresh again.
    if (entry) this.lru.set(key, { ...entry, freshUntil: 0 })
    if (this.invalidatedAt.size > 10_000) this.invalidatedAt.clear()
  }

  private async fill(key: string): Promise<CachedBody> {
    const startedAt = Date.now()
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
      if (body !== null) await this.safely(() => this.o.kv.set(this.staleKey(key), body, { ttlMs: this.o.staleTtlMs }))
    }
    return this.remember(key, body, 'db', startedAt)
  }

  private changedSince(key: string, startedAt: number): boolean {
    return (this.invalidatedAt.get(key) ?? 0) >= startedAt
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
      this.o.log.warn({ err: error, cache: this.o.name }, 'kv operation failed')
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
