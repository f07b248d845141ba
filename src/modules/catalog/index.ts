// Catalog: products, variants, categories, brands. The only file other modules import.
import DataLoader from 'dataloader'
import type { Db, Sql } from '../../platform/db/index.ts'
import type { Kv } from '../../platform/kv/types.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import type { Metrics } from '../../platform/telemetry/metrics.ts'
import { TieredCache } from '../../platform/cache/tiered-cache.ts'
import { notFound } from '../../platform/http/errors.ts'
import type { StockPort } from './product-view.ts'
import { listProductPage, loadCategoryTreeJson, loadProductJson, loadProductsJson } from './read-catalog.ts'
import { catalogRoutes } from './routes.ts'
import * as repo from './repo.ts'
import { productsForIndex, scanProductsForIndex } from './index-feed.ts'
import type { CreateProductInput, ProductViewT, UpdateProductInput } from './schemas.ts'
import { createProduct, deleteProduct, updateProduct, type StockWriter, type WriteDeps } from './write-product.ts'
import { createVariantLookup, toVariantSummary } from './variant-lookup.ts'

export type { ProductViewT as Product } from './schemas.ts'
export type { ProductForIndex } from './index-feed.ts'
export type { VariantSummary } from './variant-lookup.ts'
export { catalogEvents } from './events.ts'

export interface CatalogDeps {
  sql: Sql
  kv: Kv
  log: Logger
  metrics: Metrics
  stock: StockPort & StockWriter
  lruTtlMs: number
  loadTimeoutMs: number
}

export function createCatalogModule(deps: CatalogDeps) {
  const cacheDeps = { kv: deps.kv, log: deps.log, metrics: deps.metrics, lruTtlMs: deps.lruTtlMs, loadTimeoutMs: deps.loadTimeoutMs }
  // Product loads that start in the same tick share one query (DataLoader batches them): a cold
  // listing page's products, a burst of detail misses after a deploy. The cache already makes
  // one load per key at a time, so the loader keeps no cache of its own.
  const productLoader = new DataLoader<string, string | null>((ids) => loadProductsJson(deps.sql, deps.stock, ids), {
    cache: false,
    maxBatchSize: 100,
  })
  const variants = createVariantLookup(deps.sql, deps.lruTtlMs)
  // A product's invalidation, heard in every process, drops the variant lookups too: in the
  // other processes a cart add took a deleted product's variant, or the old price, for up to
  // their LRU's life (5 s) after the write had answered.
  const productCache = new TieredCache({ ...cacheDeps, name: 'product', load: (id) => productLoader.load(id), onForget: () => variants.forget() })
  const categoryCache = new TieredCache({ ...cacheDeps, name: 'categories', load: async () => loadCategoryTreeJson(deps.sql) })

  const writeDeps: WriteDeps = {
    sql: deps.sql,
    stock: deps.stock,
    async afterChange(productId, categoriesChanged) {
      await productCache.invalidate(productId) // and the variant lookups with it (onForget)
      if (categoriesChanged) await categoryCache.invalidate('tree')
    },
  }

  /** A product as the store shows it, through the cache; null when unknown or deleted. */
  async function getProduct(id: string): Promise<ProductViewT | null> {
    const cached = await productCache.get(id)
    return cached.body === null ? null : (JSON.parse(cached.body) as ProductViewT)
  }

  const core = {
    productCache,
    categoryCache,
    getProduct,
    /** A variant with its product's id and name, for display (prices are re-read at checkout); null when not for sale. */
    getVariant: variants.getVariant,
    /** Checkout's prices: read from PostgreSQL now, never from a cache (the price charged is the catalog's). */
    async variantsForCheckout(variantIds: string[]) {
      const summaries = (await repo.loadVariants(deps.sql, variantIds)).map(toVariantSummary)
      return new Map(
        summaries.map((v) => [v.variantId, { productId: v.productId, name: v.title ? `${v.name} (${v.title})` : v.name, price: v.price }]),
      )
    },
    /** Reads straight from PostgreSQL: an admin sees its own write at once. */
    async productForAdmin(id: string): Promise<ProductViewT> {
      const json = await loadProductJson(deps.sql, deps.stock, id)
      if (json === null) throw notFound('Product')
      return JSON.parse(json) as ProductViewT
    },
    /** A listing page as JSON ({ items, nextCursor }) with its ETag, its products read through the cache. */
    listProductsPage: (query: { category?: string; limit?: number; cursor?: string }) => listProductPage(deps.sql, productCache, query),
    async hasProducts(): Promise<boolean> {
      return (await repo.listProductIds(deps.sql, { limit: 1 })).length > 0
    },
    createProduct: (input: CreateProductInput) => createProduct(writeDeps, input),
    updateProduct: (id: string, input: UpdateProductInput) => updateProduct(writeDeps, id, input),
    deleteProduct: (id: string) => deleteProduct(writeDeps, id),
    /** Index feed (search): live products among `ids`, read from PostgreSQL; `db` may be the caller's transaction. */
    documentsForIndex: (ids: string[], db: Db = deps.sql) => productsForIndex(db, ids),
    /** Index feed for a bulk rebuild: the next `limit` live products after `afterId`, by id. */
    scanForIndex: (afterId: string, limit: number) => scanProductsForIndex(deps.sql, afterId, limit),
    /** Drops a product's cached copies everywhere (stock changes call this too). */
    invalidateProduct: (id: string) => productCache.invalidate(id),
    /** Drops the cached products these variants belong to; answers their product ids. */
    async invalidateVariants(variantIds: string[], db: Db = deps.sql): Promise<string[]> {
      const productIds = await repo.productIdsOfVariants(db, variantIds)
      await productCache.invalidateAll(productIds)
      return productIds
    },
    async start() {
      await productCache.start()
      await categoryCache.start()
    },
    async stop() {
      await productCache.stop()
      await categoryCache.stop()
    },
  }
  return { ...core, routes: catalogRoutes(core) }
}

export type CatalogModule = ReturnType<typeof createCatalogModule>
