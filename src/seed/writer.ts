// Where generated chunks go: COPY FROM STDIN on PostgreSQL, multi-row INSERTs elsewhere.
import type { Sql } from '../platform/db/index.ts'
import { generateChunk, OPENING_STOCK, SEED_ACTOR, type CatalogSink, type ChunkPlan, type SeedProduct, type SeedVariant } from './generator.ts'
import { openCopyWriter } from './copy.ts'

export type SeedMethod = 'copy' | 'insert'

export interface ChunkWriter {
  method: SeedMethod
  /** How many chunks may be in flight at once (generation overlaps the writes). */
  depth: number
  /**
   * Generates the chunk's rows (synchronously, before returning) and stores them;
   * resolves when every row is committed.
   */
  write(plan: ChunkPlan): Promise<void>
  close(): Promise<void>
}

/**
 * COPY unless the server is the embedded PGlite: pglite-socket does not implement the
 * COPY-in sub-protocol (the COPY statement hangs), so it gets batched INSERTs.
 */
export async function chooseMethod(sql: Sql): Promise<SeedMethod> {
  const [row] = await sql<{ version: string }[]>`select version()`
  return /pglite|emscripten|wasm32/i.test(row.version) ? 'insert' : 'copy'
}

export async function openWriter(sql: Sql, method: SeedMethod): Promise<ChunkWriter> {
  return method === 'copy' ? openCopyWriter(sql) : insertWriter(sql)
}

/** Products per INSERT statement (variants and stock follow with their own statements). */
const INSERT_BATCH = 1000

class Rows implements CatalogSink {
  products: SeedProduct[] = []
  variants: SeedVariant[] = []
  product(product: SeedProduct): void {
    this.products.push(product)
  }
  variant(variant: SeedVariant): void {
    this.variants.push(variant)
  }
}

async function insertRows(sql: Sql, products: SeedProduct[], variants: SeedVariant[]): Promise<void> {
  await sql`
    insert into catalog.products (id, slug, name, description, brand, category_path, images, created_at, updated_at)
    select id, slug, name, description, brand, category_path, images::jsonb, created_at, created_at
    from unnest(${products.map((p) => String(p.id))}::bigint[], ${products.map((p) => p.slug)}::text[],
                ${products.map((p) => p.name)}::text[], ${products.map((p) => p.description)}::text[],
                ${products.map((p) => p.brand)}::text[], ${products.map((p) => p.category)}::text[],
                ${products.map((p) => p.images)}::text[], ${products.map((p) => p.createdAt)}::timestamptz[])
      as t(id, slug, name, description, brand, category_path, images, created_at)`
  const variantIds = variants.map((v) => String(v.id))
  await sql`
    insert into catalog.variants (id, product_id, sku, title, price_amount, currency, position)
    select id, product_id, sku, title, price_amount, 'USD', position
    from unnest(${variantIds}::bigint[], ${variants.map((v) => String(v.productId))}::bigint[],
                ${variants.map((v) => v.sku)}::text[], ${variants.map((v) => v.title)}::text[],
                ${variants.map((v) => v.price)}::bigint[], ${variants.map((v) => v.position)}::int[])
      as t(id, product_id, sku, title, price_amount, position)`
  await sql`
    with stock as (
      insert into inventory.stock (variant_id, available)
      select * from unnest(${variantIds}::bigint[], ${variants.map((v) => v.available)}::int[])
      returning variant_id, available
    )
    insert into inventory.ledger (variant_id, actor, reason, delta_available)
    select variant_id, ${SEED_ACTOR}, ${OPENING_STOCK}, available from stock`
}

function insertWriter(sql: Sql): ChunkWriter {
  return {
    method: 'insert',
    depth: 1,
    async write(plan) {
      const rows = new Rows()
      generateChunk(plan, rows)
      let firstVariant = 0
      for (let from = 0; from < rows.products.length; from += INSERT_BATCH) {
        const products = rows.products.slice(from, from + INSERT_BATCH)
        // Variants come product by product: take those of this batch's products.
        const lastId = products[products.length - 1].id
        let end = firstVariant
        while (end < rows.variants.length && rows.variants[end].productId <= lastId) end++
        await insertRows(sql, products, rows.variants.slice(firstVariant, end))
        firstVariant = end
      }
    },
    async close() {},
  }
}
