import type { Sql } from '../../platform/db/index.ts'
import { validationFailed } from '../../platform/http/errors.ts'
import { etagOf, type CachedBody, type TieredCache } from '../../platform/cache/tiered-cache.ts'
import { toProductView, type StockPort } from './product-view.ts'
import * as repo from './repo.ts'
import type { CategoryNode, ProductViewT } from './schemas.ts'

/** Serialized product for the cache, or null when there is no such product. */
export async function loadProductJson(sql: Sql, stock: StockPort, id: string): Promise<string | null> {
  const [json] = await loadProductsJson(sql, stock, [id])
  return json
}

/** Serialized products for the cache, in the order of `ids` (null: no such product): two queries in all. */
export async function loadProductsJson(sql: Sql, stock: StockPort, ids: readonly string[]): Promise<(string | null)[]> {
  const rows = await repo.loadProducts(sql, [...ids])
  const inStock = await stock.inStock(rows.flatMap((row) => row.variants.map((v) => v.id)))
  const byId = new Map(rows.map((row) => [row.id, JSON.stringify(toProductView(row, inStock))]))
  return ids.map((id) => byId.get(id) ?? null)
}

// Cursors are opaque to clients; inside, the last id seen.
export const encodeCursor = (id: string) => Buffer.from(`p:${id}`).toString('base64url')

export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString()
  const match = /^p:([0-9]{1,18})$/.exec(text)
  if (!match) throw validationFailed([{ path: 'cursor', message: 'is not a cursor this API gave out' }])
  return match[1]
}

/**
 * A listing page, as JSON: its ids from PostgreSQL (a light keyset query), each product's body
 * from the product cache, the same copy a detail read serves, so an update or a stock change
 * that invalidates a product shows in every listing at once. A hot page costs one query and no
 * serializing. A product deleted between the two reads is left out; the cursor still moves on.
 * The page's ETag comes from its products' ETags (a short hash, not one over the whole page),
 * and `source` names the slowest tier that answered.
 */
export async function listProductPage(
  sql: Sql,
  products: TieredCache,
  query: { category?: string; limit?: number; cursor?: string },
): Promise<CachedBody> {
  const limit = query.limit ?? 20
  const ids = await repo.listProductIds(sql, {
    category: query.category,
    afterId: query.cursor ? decodeCursor(query.cursor) : undefined,
    limit: limit + 1,
  })
  const page = ids.slice(0, limit)
  const bodies = await Promise.all(page.map((id) => products.peek(id) ?? products.get(id)))
  const found = bodies.filter((cached) => cached.body !== null)
  const nextCursor = ids.length > limit ? JSON.stringify(encodeCursor(page[page.length - 1])) : 'null'
  return {
    body: `{"items":[${found.map((cached) => cached.body).join(',')}],"nextCursor":${nextCursor}}`,
    etag: etagOf(found.map((cached) => cached.etag).join('') + nextCursor),
    source: SOURCES_SLOWEST_FIRST.find((source) => found.some((cached) => cached.source === source)) ?? 'lru',
  }
}

const SOURCES_SLOWEST_FIRST: CachedBody['source'][] = ['stale', 'db', 'kv', 'lru']

export async function loadCategoryTreeJson(sql: Sql): Promise<string> {
  const rows = await repo.allCategories(sql)
  const nodes = new Map<string, CategoryNode>(rows.map((r) => [r.path, { path: r.path, name: r.name, children: [] }]))
  const roots: CategoryNode[] = []
  for (const row of rows) {
    const node = nodes.get(row.path)!
    const parent = row.parent_path ? nodes.get(row.parent_path) : undefined
    if (parent) parent.children.push(node)
    else roots.push(node)
  }
  return JSON.stringify({ items: roots })
}

export { toProductView }
