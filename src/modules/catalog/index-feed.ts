// What the catalog hands to indexers (search): plain rows read straight from PostgreSQL,
// never from the cache, so an index built from them matches the committed catalog.
import type { Db } from '../../platform/db/index.ts'
import type { ProductRow } from './repo.ts'

export interface ProductForIndex {
  id: string
  slug: string
  name: string
  description: string
  brand: string
  /** Category slug path, e.g. 'footwear/boots'. */
  category: string
  /** The first image, or null. */
  image: string | null
  /** ISO 8601 in UTC to the microsecond, as stored (a Date would keep milliseconds). */
  createdAt: string
  /**
   * Changes on every product write, by at least a microsecond: an indexer keeps the newest
   * state it has seen. ISO 8601 in UTC to the microsecond: two writes within a millisecond
   * stay in order.
   */
  updatedAt: string
  /** Lowest and highest variant price, minor units; 0 for a product without variants. */
  minPrice: number
  maxPrice: number
  currency: string
  variantIds: string[]
}

interface Row extends Omit<ProductRow, 'images' | 'variants' | 'created_at' | 'updated_at'> {
  created_at: string
  updated_at: string
  image: string | null
  min_price: string | null
  max_price: string | null
  currency: string | null
  variant_ids: string[]
}

// Variant aggregates per product through the variants_product index.
const COLUMNS = (db: Db) => db`
  p.id, p.slug, p.name, p.description, p.brand, p.category_path, p.images ->> 0 as image,
  to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at,
  to_char(p.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as updated_at,
  v.min_price, v.max_price, v.currency, v.variant_ids`
const VARIANTS = (db: Db) => db`
  cross join lateral (
    select min(price_amount) as min_price, max(price_amount) as max_price, min(currency) as currency,
           coalesce(array_agg(id::text order by id), '{}') as variant_ids
    from catalog.variants where product_id = p.id
  ) v`

function toProductForIndex(row: Row): ProductForIndex {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    brand: row.brand,
    category: row.category_path,
    image: row.image,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    minPrice: Number(row.min_price ?? 0),
    maxPrice: Number(row.max_price ?? 0),
    currency: (row.currency ?? 'USD').trim(),
    variantIds: row.variant_ids,
  }
}

/** The live products among `ids`; a deleted or unknown id is simply absent. */
export async function productsForIndex(db: Db, ids: string[]): Promise<ProductForIndex[]> {
  if (ids.length === 0) return []
  const rows = await db<Row[]>`
    select ${COLUMNS(db)} from catalog.products p ${VARIANTS(db)}
    where p.id = any(${ids}::bigint[]) and p.deleted_at is null
    order by p.id`
  return rows.map(toProductForIndex)
}

/** Up to `limit` live products with id above `afterId`, in id order: a bulk indexer's keyset scan. */
export async function scanProductsForIndex(db: Db, afterId: string, limit: number): Promise<ProductForIndex[]> {
  const rows = await db<Row[]>`
    select ${COLUMNS(db)} from catalog.products p ${VARIANTS(db)}
    where p.id > ${afterId} and p.deleted_at is null
    order by p.id
    limit ${limit}`
  return rows.map(toProductForIndex)
}
