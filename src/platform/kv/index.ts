import { MemoryKv } from './memory.ts'
import { RedisKv } from './redis.ts'
import type { Kv } from './types.ts'

export type { Kv }
export { MemoryKv, RedisKv }

export async function connectKv(redisUrl: string | null, instance: string): Promise<Kv> {
  if (!redisUrl) return new MemoryKv()
  const kv = new RedisKv(redisUrl, instance)
  await kv.connect()
  return kv
}
