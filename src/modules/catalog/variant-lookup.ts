import { LRUCache } from 'lru-cache'
import type { Sql } from '../../platform/db/index.ts'
import { loadVariant, type VariantRow } from './repo.ts'

/** A variant as other modules see it (the cart's line snapshot, for one). */
export interface VariantSummary {
  variantId: string
  productId: string
  name: string
  title: string
  price: { amount: number; currency: string }
}

export function toVariantSummary(row: VariantRow): VariantSummary {
  return {
    variantId: row.id,
    productId: row.product_id,
    name: row.name,
    title: row.title,
    price: { amount: Number(row.price_amount), currency: row.currency.trim() },
  }
}

/** lru-cache's reasons for aborting a fetch in flight (clear or delete, eviction, a set over it). */
const ABORTED_BY_CACHE = ['deleted', 'evicted', 'replaced']

/**
 * Variant -> product lookups for hot paths such as add-to-cart. A short in-process cache
 * (the LRU freshness of product pages) is enough: carts show prices for display only, and
 * checkout re-reads the price. Concurrent lookups of one id share one query.
 */
export function createVariantLookup(sql: Sql, ttlMs: number) {
  async function load(variantId: string): Promise<VariantSummary | null> {
    const row = await loadVariant(sql, variantId)
    return row ? toVariantSummary(row) : null
  }

  // lru-cache needs a non-null value, so an unknown variant is cached as { variant: null }.
  const cache = new LRUCache<string, { variant: VariantSummary | null }>({
    max: 100_000,
    ttl: Math.max(1, ttlMs),
    fetchMethod: async (variantId) => ({ variant: await load(variantId) }),
  })

  return {
    async getVariant(variantId: string): Promise<VariantSummary | null> {
      if (ttlMs <= 0) return load(variantId)
      for (let attempt = 1; ; attempt++) {
        try {
          return (await cache.fetch(variantId))?.variant ?? null
        } catch (error) {
          // forget() (any product write in this process) aborts the lookups in flight: they
          // reject with lru-cache's "deleted". Such a lookup asks again, and reads the write.
          if (attempt >= 3 || !ABORTED_BY_CACHE.includes((error as Error)?.message)) throw error
        }
      }
    },
    /** Forgets this process's copies (after a product write); other processes age out within ttlMs. */
    forget: () => cache.clear(),
  }
}
