import type { Db } from '../../platform/db/index.ts'

export interface VariantJson {
  id: string
  sku: string
  title: string
  amount: number
  currency: string
}

export interface ProductRow {
  id: string
  slug: string
  name: string
  description: string
  brand: string
  category_path: string
  images: string[]
  created_at: Date
  updated_at: Date
  variants: VariantJson[]
}

// Products with their variants in one round trip.
const PRODUCT_COLUMNS = (db: Db) => db`
  p.id, p.slug, p.name, p.description, p.brand, p.category_path, p.images, p.created_at, p.updated_at,
  coalesce((
    select json_agg(json_build_object('id', v.id::text, 'sku', v.sku, 'title', v.title,
                                      'amount', v.price_amount, 'currency', v.currency)
                    order by v.position, v.id)
    from catalog.variants v where v.product_id = p.id
  ), '[]'::json) as variants`

/** Several products in one query (deleted ones left out), in no particular order. */
export async function loadProducts(db: Db, ids: string[]): Promise<ProductRow[]> {
  return db<ProductRow[]>`
    select ${PRODUCT_COLUMNS(db)} from catalog.products p where p.id = any(${ids}::bigint[]) and p.deleted_at is null`
}

/** The ids of a listing page, in id order (keyset: after `afterId`); the bodies come from the product cache. */
export async function listProductIds(db: Db, options: { category?: string; afterId?: string; limit: number }): Promise<string[]> {
  const category = options.category
  const rows = await db<{ id: string }[]>`
    select p.id::text as id from catalog.products p
    where p.deleted_at is null
      ${category ? db`and (p.category_path = ${category} or p.category_path like ${category + '/%'})` : db``}
      ${options.afterId ? db`and p.id > ${options.afterId}` : db``}
    order by p.id
    limit ${options.limit}`
  return rows.map((row) => row.id)
}

export async function ensureCategory(db: Db, path: string): Promise<boolean> {
  // Creates the category and every missing ancestor; answers whether anything was new.
  const segments = path.split('/')
  let created = false
  for (let i = 1; i <= segments.length; i++) {
    const current = segments.slice(0, i).join('/')
    const parent = i > 1 ? segments.slice(0, i - 1).join('/') : null
    const rows = await db`
      insert into catalog.categories (path, name, parent_path) values (${current}, ${titleOf(segments[i - 1])}, ${parent})
      on conflict (path) do nothing returning path`
    created ||= rows.length > 0
  }
  return created
}

export function titleOf(slug: string): string {
  return slug
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ')
}

export async function allCategories(db: Db): Promise<{ path: string; name: string; parent_path: string | null }[]> {
  return db`select path, name, parent_path from catalog.categories order by path`
}

export async function slugTaken(db: Db, slug: string, exceptId?: string): Promise<boolean> {
  const rows = await db`select 1 from catalog.products where slug = ${slug} ${exceptId ? db`and id <> ${exceptId}` : db``}`
  return rows.length > 0
}

/** Which variant holds each of these SKUs (the SKUs nobody holds are absent). */
export async function skuHolders(db: Db, skus: string[]): Promise<Map<string, string>> {
  if (skus.length === 0) return new Map()
  const rows = await db<{ sku: string; id: string }[]>`select sku, id::text as id from catalog.variants where sku = any(${skus}::text[])`
  return new Map(rows.map((r) => [r.sku, r.id]))
}

export async function insertProduct(
  db: Db,
  p: { slug: string; name: string; description: string; brand: string; category: string; images: string[] },
): Promise<string> {
  const [row] = await db<{ id: string }[]>`
    insert into catalog.products (slug, name, description, brand, category_path, images)
    values (${p.slug}, ${p.name}, ${p.description}, ${p.brand}, ${p.category}, ${db.json(p.images)})
    returning id`
  return row.id
}

export async function insertVariant(
  db: Db,
  v: { productId: string; sku: string; title: string; amount: number; currency: string; position: number },
): Promise<string> {
  const [row] = await db<{ id: string }[]>`
    insert into catalog.variants (product_id, sku, title, price_amount, currency, position)
    values (${v.productId}, ${v.sku}, ${v.title}, ${v.amount}, ${v.currency}, ${v.position})
    returning id`
  return row.id
}

export async function updateProductFields(
  db: Db,
  id: string,
  fields: Partial<{ slug: string; name: string; description: string; brand: string; category_path: string; images: string[] }>,
): Promise<boolean> {
  const changes: Record<string, unknown> = { ...fields }
  if (fields.images) changes.images = db.json(fields.images)
  // postgres.js writes db(changes) as "column = value" pairs only right after "set" in the same template.
  const rows =
    Object.keys(changes).length > 0
      ? await db`
          update catalog.products set ${db(changes as Record<string, never>)}, updated_at = ${NEXT_UPDATED_AT(db)}
          where id = ${id} and deleted_at is null returning id`
      : await db`
          update catalog.products set updated_at = ${NEXT_UPDATED_AT(db)}
          where id = ${id} and deleted_at is null returning id`
  return rows.length > 0
}

/**
 * A product's updated_at is its version: the search index keeps a document only for a
 * newer one. So it comes from the database's clock, not an API host's (a host whose clock
 * lags wrote an "older" change the index then refused, for good), read when the row is
 * written (clock_timestamp, after any wait for the row lock; now() is the transaction's
 * start), and always past the one before (a clock set back).
 */
const NEXT_UPDATED_AT = (db: Db) => db`greatest(clock_timestamp(), updated_at + interval '1 microsecond')`

export async function updateVariant(
  db: Db,
  productId: string,
  variantId: string,
  fields: Partial<{ sku: string; title: string; price_amount: number; currency: string }>,
): Promise<boolean> {
  if (Object.keys(fields).length === 0) {
    const rows = await db`select 1 from catalog.variants where id = ${variantId} and product_id = ${productId}`
    return rows.length > 0
  }
  const rows = await db`
    update catalog.variants set ${db(fields as Record<string, never>)}
    where id = ${variantId} and product_id = ${productId} returning id`
  return rows.length > 0
}

/**
 * A deleted product stays for order history, and lets go of its slug and its variants' SKUs
 * (renamed with a mark no slug or SKU a merchant can write contains): the merchant may
 * create the product again. The SKUs were kept, and nothing could free them.
 */
export async function softDeleteProduct(db: Db, id: string): Promise<boolean> {
  const rows = await db`
    with deleted as (
      update catalog.products set deleted_at = now(), updated_at = ${NEXT_UPDATED_AT(db)}, slug = slug || '~deleted~' || id
      where id = ${id} and deleted_at is null returning id
    ),
    freed as (update catalog.variants set sku = sku || '~deleted~' || id where product_id in (select id from deleted))
    select id from deleted`
  return rows.length > 0
}

/** The currencies the product's variants are priced in (one, unless a write mixed them). */
export async function variantCurrencies(db: Db, productId: string): Promise<string[]> {
  const rows = await db<{ currency: string }[]>`select distinct currency from catalog.variants where product_id = ${productId} order by currency`
  return rows.map((row) => row.currency.trim())
}

export async function variantCount(db: Db, productId: string): Promise<number> {
  const [row] = await db<{ n: number }[]>`select count(*)::int as n from catalog.variants where product_id = ${productId}`
  return row.n
}

export interface VariantRow {
  id: string
  product_id: string
  name: string
  title: string
  price_amount: string
  currency: string
}

/** One variant for sale, with its product's name; null when unknown or its product is deleted. */
export async function loadVariant(db: Db, variantId: string): Promise<VariantRow | null> {
  const [row] = await loadVariants(db, [variantId])
  return row ?? null
}

/**
 * Variants for sale among `variantIds`, with their products' names; unknown, malformed or
 * deleted ones are absent. `in ($1, $2, ...)`, not `= any($1)`: a prepared statement per
 * number of ids, whose generic plan PostgreSQL can reuse. With an array parameter it assumed
 * ten elements, so the generic plan never looked cheaper than planning for the one or two ids
 * a cart holds, and checkout paid 0.13 ms of PostgreSQL CPU to plan this join on every order.
 */
export async function loadVariants(db: Db, variantIds: string[]): Promise<VariantRow[]> {
  const ids = variantIds.filter((id) => /^[0-9]{1,18}$/.test(id))
  if (ids.length === 0) return []
  return db<VariantRow[]>`
    select v.id, v.product_id, p.name, v.title, v.price_amount, v.currency
    from catalog.variants v join catalog.products p on p.id = v.product_id
    where v.id in ${db(ids)} and p.deleted_at is null`
}

export async function productIdsOfVariants(db: Db, variantIds: string[]): Promise<string[]> {
  if (variantIds.length === 0) return []
  const rows = await db<{ product_id: string }[]>`
    select distinct product_id from catalog.variants where id = any(${variantIds}::bigint[])`
  return rows.map((r) => r.product_id)
}
