// Synthetic catalog seeding: a realistic, repeatable catalog of any size (1 M products in
// well under five minutes on PostgreSQL through COPY; batched INSERTs on the embedded PGlite).
//
// A run is identified by its seed: skus are SKU-<seed>-<product number>-<variant number>, so runs
// with different seeds coexist in one database, and seeding the same seed twice is refused.
// Product and variant ids are reserved from the identity sequences up front and given
// explicitly, so concurrent writers never collide with the seeded rows.
import cliProgress from 'cli-progress'
import type { Sql } from '../platform/db/index.ts'
import { skuOf, variantCountOf } from './generator.ts'
import { CATALOG, categoryPaths } from './words.ts'
import { chooseMethod, openWriter, type SeedMethod } from './writer.ts'

export interface SeedOptions {
  products: number
  seed: number
  /** Show a cli-progress bar on stderr. */
  progress?: boolean
  log?: { info(obj: object, msg?: string): void }
}

export interface SeedResult {
  products: number
  variants: number
  categories: number
  ms: number
}

const CHUNK_PRODUCTS = 10_000

export class SeedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SeedError'
  }
}

function titleCase(slug: string): string {
  return slug.split('-').map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join(' ')
}

async function insertCategories(sql: Sql): Promise<number> {
  const paths = categoryPaths()
  const names = paths.map((path) => titleCase(path.slice(path.lastIndexOf('/') + 1)))
  const parents = paths.map((path) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : null))
  // Parents come first in `paths`, and one INSERT checks foreign keys only at its end.
  await sql`
    insert into catalog.categories (path, name, parent_path)
    select * from unnest(${paths}::text[], ${names}::text[], ${parents as string[]}::text[])
    on conflict (path) do nothing`
  return paths.length
}

/** Takes `count` consecutive ids from a table's identity sequence; answers the first. */
async function reserveIds(sql: Sql, table: string, count: number): Promise<number> {
  if (count === 0) return 0
  const [row] = await sql<{ last: string }[]>`
    select setval(pg_get_serial_sequence(${table}, 'id'), nextval(pg_get_serial_sequence(${table}, 'id')) + ${count} - 1) as last`
  return Number(row.last) - count + 1
}

function startBar(total: number): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'seeding |{bar}| {percentage}% | {value}/{total} products | {rate}/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(total, 0, { rate: 0 })
  return bar
}

export async function seedCatalog(sql: Sql, options: SeedOptions): Promise<SeedResult> {
  const { products: total, seed } = options
  if (!Number.isSafeInteger(total) || total < 0) throw new SeedError(`products must be a whole number >= 0, got ${total}`)
  if (!Number.isSafeInteger(seed)) throw new SeedError(`seed must be a whole number, got ${seed}`)
  const started = performance.now()

  const firstSku = skuOf(seed, 0, 0)
  const taken = await sql`select 1 from catalog.variants where sku = ${firstSku}`
  if (taken.length > 0) {
    throw new SeedError(`this database already holds a catalog seeded with seed ${seed} (sku ${firstSku} exists); seed with another seed or into a fresh database`)
  }

  const categories = await insertCategories(sql)
  // Variant counts come from their own hash, so all ids can be reserved before generating.
  const variantCounts = new Uint8Array(total)
  let variantTotal = 0
  for (let i = 0; i < total; i++) variantTotal += variantCounts[i] = variantCountOf(seed, i)
  const productIdBase = await reserveIds(sql, 'catalog.products', total)
  const variantIdBase = await reserveIds(sql, 'catalog.variants', variantTotal)

  const method: SeedMethod = await chooseMethod(sql)
  const writer = await openWriter(sql, method)
  const bar = options.progress ? startBar(total) : null
  let written = 0
  let failure: unknown = null
  const inFlight: Promise<void>[] = []
  const now = Date.now()
  try {
    let variantId = variantIdBase
    for (let start = 0; start < total && !failure; start += CHUNK_PRODUCTS) {
      const count = Math.min(CHUNK_PRODUCTS, total - start)
      const plan = { seed, start, count, productIdBase, variantIdStart: variantId, now }
      for (let i = start; i < start + count; i++) variantId += variantCounts[i]
      const done = writer.write(plan).then(
        () => {
          written += count
          bar?.update(written, { rate: Math.round(written / ((performance.now() - started) / 1000)) })
        },
        (error: unknown) => {
          failure ??= error
        },
      )
      inFlight.push(done)
      if (inFlight.length >= writer.depth) await inFlight.shift()
    }
    await Promise.all(inFlight)
  } finally {
    bar?.stop()
    await writer.close()
  }
  if (failure) throw failure

  await sql`analyze catalog.products, catalog.variants, inventory.stock`
  const result: SeedResult = { products: total, variants: variantTotal, categories, ms: Math.round(performance.now() - started) }
  options.log?.info({ ...result, seed, method, departments: CATALOG.length }, 'seeded the catalog')
  return result
}
