import { MemoryKv } from './memory.ts'
import { RedisKv, type RedisKvOptions } from './redis.ts'
import { KvUnavailable, type Kv } from './types.ts'

export type { Kv, RedisKvOptions }
export { KvUnavailable, MemoryKv, RedisKv }

/**
 * The KV of REDIS_URL (or the in-process one). A Redis that does not answer at start is no
 * reason not to start: product pages and search read through to PostgreSQL without it, and
 * carts and sessions answer 503 until it does, as they do when it goes away later. The
 * connection goes on trying in the background (`onUnavailable` hears of it once). Before,
 * an API process could not start during a Redis outage: a replaced or added one crash-looped.
 */
export async function connectKv(redisUrl: string | null, instance: string, options: RedisKvOptions & { onUnavailable?: (error: Error) => void } = {}): Promise<Kv> {
  if (!redisUrl) return new MemoryKv()
  const kv = new RedisKv(redisUrl, instance, options)
  await kv.connect().catch((error: Error) => options.onUnavailable?.(error))
  return kv
}
