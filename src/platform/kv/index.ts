import { MemoryKv } from './memory.ts'
import { RedisKv, type RedisKvOptions } from './redis.ts'
import { KvUnavailable, type Kv } from './types.ts'

export type { Kv, RedisKvOptions }
export { KvUnavailable, MemoryKv, RedisKv }

export async function connectKv(redisUrl: string | null, instance: string, options: RedisKvOptions = {}): Promise<Kv> {
  if (!redisUrl) return new MemoryKv()
  const kv = new RedisKv(redisUrl, instance, options)
  await kv.connect()
  return kv
}
