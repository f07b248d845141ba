// Times the catalog seed (COPY into a fresh database). Not a load scenario: run it by name,
// `npm run bench seed`; BENCH_SEED_PRODUCTS sets the size (default 1,000,000).
import { randomBytes } from 'node:crypto'
import { connectDb } from '../../src/platform/db/index.ts'
import { migrate } from '../../src/platform/db/migrate.ts'
import { seedCatalog } from '../../src/seed/index.ts'
import { dropDatabase, recreateDatabase } from '../lib/database.ts'
import { intFromEnv } from '../lib/env.ts'
import type { TaskScenario } from './types.ts'

// Its own database per run (runs side by side never touch each other's data).
const DATABASE = `shop_bench_seed_${randomBytes(3).toString('hex')}`

export const seed: TaskScenario = {
  kind: 'task',
  name: 'seed',
  description: 'seeds BENCH_SEED_PRODUCTS products (default 1,000,000) into a fresh database and times it',
  explicitOnly: true,
  async run(ctx) {
    const products = intFromEnv('BENCH_SEED_PRODUCTS', 1_000_000)
    const url = await recreateDatabase(ctx.serverUrl, DATABASE)
    // 1 M products take ~1.4 GB: keep the database only when asked to (also on Ctrl-C).
    if (!process.env.BENCH_KEEP_SEED_DB) ctx.atCleanup(() => dropDatabase(ctx.serverUrl, DATABASE))
    const sql = connectDb({ url, poolSize: 4 })
    let size = ''
    let result
    try {
      await migrate(sql)
      ctx.log(`seeding ${products.toLocaleString('en-US')} products into ${DATABASE}`)
      result = await seedCatalog(sql, { products, seed: 1, progress: process.stderr.isTTY })
      const [row] = await sql<{ size: string }[]>`select pg_size_pretty(pg_database_size(current_database())) as size`
      size = row.size
    } finally {
      await sql.end({ timeout: 5 })
    }
    const seconds = result.ms / 1000
    const rows = result.products + 2 * result.variants
    const productsPerSecond = Math.round(result.products / seconds)
    return {
      lines: [
        `${result.products.toLocaleString('en-US')} products, ${result.variants.toLocaleString('en-US')} variants (+ as many stock rows), ${result.categories} categories`,
        `${seconds.toFixed(1)} s total: ${productsPerSecond.toLocaleString('en-US')} products/s, ${Math.round(rows / seconds).toLocaleString('en-US')} rows/s`,
        `database size ${size}${process.env.BENCH_KEEP_SEED_DB ? ` (kept: ${DATABASE})` : ' (dropped afterwards; BENCH_KEEP_SEED_DB=1 keeps it)'}`,
      ],
      data: { ...result, seconds, productsPerSecond, rowsPerSecond: Math.round(rows / seconds), databaseSize: size },
    }
  },
}
