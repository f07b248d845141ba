import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestApp, type TestApp } from '../../../test/support/app.ts'
import { seedCatalog } from '../../seed/index.ts'

const PRODUCTS = 2_500

describe('bulk reindex of a catalog seeded without events', () => {
  let t: TestApp

  before(async () => {
    t = await startTestApp()
    await seedCatalog(t.platform.sql, { products: PRODUCTS, seed: 11 })
  })
  after(() => t.close())

  const indexed = async () => (await t.platform.sql<{ n: number }[]>`select count(*)::int as n from search.documents`)[0].n

  test('builds one document per live product, in batches, and search and suggest work on it', async () => {
    assert.equal(await indexed(), 0)
    const result = await t.api.modules.search.reindexIfEmpty()
    assert.equal(result?.products, PRODUCTS)
    assert.equal(await indexed(), PRODUCTS)
    assert.equal(await t.api.modules.search.reindexIfEmpty(), null, 'only when empty')

    const body = (await t.call('GET', '/store/search?q=trailrunner&limit=5')).body
    assert.ok(body.total > 0 && body.items.length === 5)
    const suggest = (await t.call('GET', '/store/search/suggest?q=tra')).body.items
    assert.ok(suggest.length > 0 && suggest.every((s: { text: string }) => s.text.toLowerCase().startsWith('tra')))
  })

  test('a first build lays the table out in stripes; a later rebuild only when asked (--layout)', async () => {
    const clusteredOn = async () =>
      (await t.platform.sql<{ index: string }[]>`
        select indexrelid::regclass::text as index from pg_index
        where indrelid = 'search.documents'::regclass and indisclustered`)[0]?.index ?? null
    assert.equal(await clusteredOn(), 'search.documents_layout', 'the first build clustered the table')
    await t.platform.sql`alter table search.documents cluster on documents_category` // as an index built before the stripes
    await t.api.modules.search.reindexAll()
    assert.equal(await clusteredOn(), 'search.documents_category', 'a plain rebuild leaves the layout alone')
    await t.api.modules.search.reindexAll({ layOut: true })
    assert.equal(await clusteredOn(), 'search.documents_layout')
  })

  test('documents carry the catalog price range and the inventory in-stock state', async () => {
    const mismatches = await t.platform.sql`
      with truth as (
        select p.id, p.name, p.brand, p.category_path, min(v.price_amount) as min_price, max(v.price_amount) as max_price,
               bool_or(coalesce(s.available, 0) > 0) as in_stock
        from catalog.products p join catalog.variants v on v.product_id = p.id
        left join inventory.stock s on s.variant_id = v.id
        where p.deleted_at is null group by p.id
      )
      select t.id from truth t left join search.documents d on d.product_id = t.id
      where d.product_id is null or (d.name, d.brand, d.category_path, d.min_price, d.max_price, d.in_stock)
                                  is distinct from (t.name, t.brand, t.category_path, t.min_price, t.max_price, t.in_stock)`
    assert.equal(mismatches.length, 0)
    const [{ outOfStock }] = await t.platform.sql<{ outOfStock: number }[]>`select count(*)::int as "outOfStock" from search.documents where not in_stock`
    assert.ok(outOfStock >= 0)
  })

  test('a rebuild drops documents of products deleted meanwhile and is idempotent', async () => {
    const [victim] = await t.platform.sql<{ id: string }[]>`select product_id::text as id from search.documents order by product_id limit 1 offset 1234`
    const token = await t.adminToken()
    assert.equal((await t.call('DELETE', `/admin/products/${victim.id}`, { token })).status, 204) // its event is not delivered
    const first = await t.api.modules.search.reindexAll({ batchSize: 1_000 })
    assert.equal(first.removed, 1)
    assert.equal(await indexed(), PRODUCTS - 1)
    const again = await t.api.modules.search.reindexAll()
    assert.deepEqual([again.products, again.removed], [PRODUCTS - 1, 0])
    const [{ names }] = await t.platform.sql<{ names: number }[]>`
      select (select sum(products) from search.terms where kind = 'name')::int as names`
    assert.equal(names, PRODUCTS - 1, 'completions recounted exactly')
  })
})
