// Two `start` processes on one fresh database (a deployment rolling out two at once): the
// demo catalog is seeded once, whole, and indexed once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestApp } from './support/app.ts'
import { realServers } from './support/db.ts'
import { prepareFirstStart } from '../src/first-start.ts'

test('two first starts at once on a fresh database seed the demo catalog once, every product with its variants and stock', { skip: realServers ? false : 'the embedded database is one process' }, async () => {
  const a = await startTestApp()
  const b = await startTestApp({ databaseUrl: a.databaseUrl, instance: a.instance })
  try {
    await Promise.all([prepareFirstStart(a.platform, a.api.modules, 40), prepareFirstStart(b.platform, b.api.modules, 40)])
    const [counts] = await a.platform.sql<{ products: number; without_variants: number; variants: number; stock: number; indexed: number }[]>`
      select (select count(*) from catalog.products)::int as products,
             (select count(*) from catalog.products p where not exists (select 1 from catalog.variants v where v.product_id = p.id))::int as without_variants,
             (select count(*) from catalog.variants)::int as variants,
             (select count(*) from inventory.stock)::int as stock,
             (select count(*) from search.documents)::int as indexed`
    assert.equal(counts.products, 40, JSON.stringify(counts))
    assert.equal(counts.without_variants, 0)
    assert.equal(counts.stock, counts.variants, 'a stock row per variant, none for a variant that is not there')
    assert.equal(counts.indexed, 40)
  } finally {
    await b.close()
    await a.close()
  }
})
