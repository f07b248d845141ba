import { LRUCache } from 'lru-cache'
import type { StockPort } from './ports.ts'

/** Above this many units a count a second old cannot change a cart's answer in practice. */
const PLENTY = 1000

/**
 * The cart's stock check is soft (nothing is held; checkout reserves for real). For a variant
 * with plenty of stock, the hot Black-Friday case, a count up to `ttlMs` old is good enough
 * and takes a PostgreSQL query off most add-to-cart calls; a low count is always read fresh,
 * so "only 3 left" and "sold out" are exact. Concurrent checks of one variant share one query.
 * ttlMs 0: no cache.
 */
export function cachedAvailability(stock: StockPort, ttlMs: number): (variantId: string) => Promise<number> {
  const direct = async (variantId: string) => (await stock.available([variantId])).get(variantId) ?? 0
  if (ttlMs <= 0) return direct
  const plenty = new LRUCache<string, number>({ max: 100_000, ttl: ttlMs })
  const inflight = new Map<string, Promise<number>>()
  return (variantId) => {
    const cached = plenty.get(variantId)
    if (cached !== undefined) return Promise.resolve(cached)
    let pending = inflight.get(variantId)
    if (!pending) {
      pending = direct(variantId)
        .then((units) => {
          if (units >= PLENTY) plenty.set(variantId, units)
          return units
        })
        .finally(() => inflight.delete(variantId))
      inflight.set(variantId, pending)
    }
    return pending
  }
}
