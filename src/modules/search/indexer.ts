// Keeps the search index in step with the catalog: per product from product.updated
// events, and in bulk for catalogs that were seeded without events.
//
// Why events and not the catalog's own transaction: search is a read model that may live
// elsewhere (an OpenSearch cluster cannot join a PostgreSQL transaction), a product write
// should not pay for tokenizing its description or fail because search is unwell, and a
// lag of one dispatch interval (~200 ms) is fine for search. The outbox makes the event
// exist exactly when the change does, so nothing is missed.
import type { Db, Sql } from '../../platform/db/index.ts'
import type { ProductForIndex } from '../catalog/index.ts'
import type { IndexDocument, SearchIndex } from './engine.ts'

export interface IndexerDeps {
  sql: Sql
  /** The catalog's index feed (its public entry). */
  catalog: {
    documentsForIndex(ids: string[], db?: Db): Promise<ProductForIndex[]>
    scanForIndex(afterId: string, limit: number): Promise<ProductForIndex[]>
  }
  /** Inventory's public entry. */
  stock: { inStock(variantIds: string[], db?: Db): Promise<Map<string, boolean>> }
  indexFor(db: Db): SearchIndex
}

export const REINDEX_BATCH = 5_000

function toDocument(product: ProductForIndex, inStock: Map<string, boolean>): IndexDocument {
  return {
    productId: product.id,
    slug: product.slug,
    name: product.name,
    brand: product.brand,
    category: product.category,
    description: product.description,
    image: product.image,
    currency: product.currency,
    minPrice: product.minPrice,
    maxPrice: product.maxPrice,
    inStock: product.variantIds.some((id) => inStock.get(id) === true),
    createdAt: product.createdAt,
    sourceUpdatedAt: product.updatedAt,
  }
}

/**
 * The product.updated consumer, run in the dispatcher's transaction so the index write
 * commits with the event's dispatched mark. Idempotent and order-proof: it never applies
 * the event's content, it re-reads the product's current state (after taking the
 * products' lock, so of two concurrent refreshes the later one reads the later state),
 * and a product that is gone is removed.
 */
export async function refreshProducts(deps: IndexerDeps, productIds: string[], tx: Db): Promise<void> {
  const index = deps.indexFor(tx)
  await index.lock(productIds)
  const products = await deps.catalog.documentsForIndex(productIds, tx)
  const inStock = await deps.stock.inStock(products.flatMap((p) => p.variantIds), tx)
  const live = new Set(products.map((p) => p.id))
  await index.apply({
    upserts: products.map((p) => toDocument(p, inStock)),
    removals: productIds.filter((id) => !live.has(id)),
  })
}

export interface ReindexOptions {
  batchSize?: number
  writers?: number
  onProgress?: (indexed: number) => void
  /**
   * Also rewrite the table in its read layout (CLUSTER), as a first build does. CLUSTER
   * locks the search table, reads included, while it runs (about 20 s per million
   * products): for an index built before the layout changed, at a quiet hour.
   */
  layOut?: boolean
}

export interface ReindexResult {
  products: number
  removed: number
  ms: number
}

/**
 * Rebuilds the whole index from the catalog in id order, REINDEX_BATCH products per
 * statement. The catalog is read one batch ahead, and two batches are written at a time
 * (tokenizing and GIN inserts are PostgreSQL CPU work: one backend per core). Documents of
 * products that no longer exist are dropped range by range; completions are recounted
 * once at the end, and a first build is laid out by category.
 */
export async function reindexAll(
  deps: IndexerDeps,
  options: ReindexOptions = {},
): Promise<ReindexResult> {
  const started = performance.now()
  const index = deps.indexFor(deps.sql)
  const batchSize = options.batchSize ?? REINDEX_BATCH
  const writers = options.writers ?? 2
  const firstBuild = (await index.count()) === 0
  let products = 0
  let removed = 0
  let failure: unknown = null
  const inFlight: Promise<void>[] = []

  const write = async (batch: ProductForIndex[], after: string, last: string | null) => {
    const inStock = await deps.stock.inStock(batch.flatMap((p) => p.variantIds))
    await index.load(batch.map((p) => toDocument(p, inStock)))
    // Read the count after the await: `removed += await ...` would read it before, and two
    // writers in flight would overwrite each other's count.
    const gone = await index.removeMissing(after, last, batch.map((p) => p.id))
    removed += gone
    products += batch.length
    if (batch.length > 0) options.onProgress?.(products)
  }

  let after = '0'
  let next = deps.catalog.scanForIndex(after, batchSize)
  while (!failure) {
    const batch = await next
    const last = batch.length === batchSize ? batch[batch.length - 1].id : null
    if (last) {
      next = deps.catalog.scanForIndex(last, batchSize)
      next.catch(() => {}) // awaited on the next turn; a failure is reported there
    }
    inFlight.push(write(batch, after, last).catch((error: unknown) => void (failure ??= error)))
    if (inFlight.length >= writers) await inFlight.shift()
    if (!last) break
    after = last
  }
  await Promise.all(inFlight)
  if (failure) throw failure
  await index.finishLoad({ layOut: firstBuild || options.layOut === true })
  return { products, removed, ms: Math.round(performance.now() - started) }
}
