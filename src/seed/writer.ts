// Where generated chunks go: COPY FROM STDIN on PostgreSQL, multi-row INSERTs elsewhere.
import type { Sql } from '../platform/db/index.ts'
import type { Chunk } from './generator.ts'
import { openCopyWriter } from './copy.ts'

export type SeedMethod = 'copy' | 'insert'

export interface ChunkWriter {
  method: SeedMethod
  /** How many chunks may be in flight at once (generation overlaps the writes). */
  depth: number
  /** Resolves when every row of the chunk is committed. */
  write(chunk: Chunk): Promise<void>
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

const INSERT_BATCH = 1000

function insertWriter(sql: Sql): ChunkWriter {
  return {
    method: 'insert',
    depth: 1,
    async write(chunk) {
      const p = chunk.products
      const v = chunk.variants
      let firstVariant = 0
      for (let from = 0; from < chunk.count; from += INSERT_BATCH) {
        const to = Math.min(chunk.count, from + INSERT_BATCH)
        const ids = p.id.slice(from, to).map(String)
        await sql`
          insert into catalog.products (id, slug, name, description, brand, category_path, images, created_at, updated_at)
          select id, slug, name, description, brand, category_path, images::jsonb, created_at, created_at
          from unnest(${ids}::bigint[], ${p.slug.slice(from, to)}::text[], ${p.name.slice(from, to)}::text[],
                      ${p.description.slice(from, to)}::text[], ${p.brand.slice(from, to)}::text[],
                      ${p.category.slice(from, to)}::text[], ${p.images.slice(from, to)}::text[],
                      ${p.createdAt.slice(from, to)}::timestamptz[])
            as t(id, slug, name, description, brand, category_path, images, created_at)`
        // Variants are laid out product by product: take those of this batch's products.
        const lastProductId = p.id[to - 1]
        let end = firstVariant
        while (end < v.id.length && v.productId[end] <= lastProductId) end++
        const variantIds = v.id.slice(firstVariant, end).map(String)
        await sql`
          insert into catalog.variants (id, product_id, sku, title, price_amount, currency, position)
          select id, product_id, sku, title, price_amount, 'USD', position
          from unnest(${variantIds}::bigint[], ${v.productId.slice(firstVariant, end).map(String)}::bigint[],
                      ${v.sku.slice(firstVariant, end)}::text[], ${v.title.slice(firstVariant, end)}::text[],
                      ${v.price.slice(firstVariant, end)}::bigint[], ${v.position.slice(firstVariant, end)}::int[])
            as t(id, product_id, sku, title, price_amount, position)`
        await sql`
          insert into inventory.stock (variant_id, available)
          select * from unnest(${variantIds}::bigint[], ${v.available.slice(firstVariant, end)}::int[])`
        firstVariant = end
      }
    },
    async close() {},
  }
}
