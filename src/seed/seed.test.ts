import assert from 'node:assert/strict'
import { test } from 'node:test'
import { freshDatabase } from '../../test/support/db.ts'
import { copyRows, copyText, CopyText } from './copy.ts'
import { generateChunk, type SeedProduct } from './generator.ts'
import { seedCatalog } from './index.ts'

test('a product depends only on the seed and its number, not on chunking', () => {
  const names = (chunks: [number, number][]) => {
    const products: SeedProduct[] = []
    const sink = { product: (p: SeedProduct) => void products.push(p), variant: () => {} }
    for (const [start, count] of chunks) generateChunk({ seed: 3, start, count, productIdBase: 1, variantIdStart: 1, now: 0 }, sink)
    return products.map((p) => `${p.name}|${p.brand}|${p.category}|${p.description}`)
  }
  assert.deepEqual(names([[0, 100]]), names([[0, 37], [37, 63]]))
  assert.notDeepEqual(names([[0, 100]]).slice(0, 5), names([[5, 5]]))
})

test('COPY text escaping', () => {
  assert.equal(copyText('plain'), 'plain')
  assert.equal(copyText('a\tb\\c\nd\re'), 'a\\tb\\\\c\\nd\\re')
})

test('COPY round-trips awkward text and reports a rejected COPY instead of hanging', { skip: !process.env.DATABASE_URL && 'COPY needs a real PostgreSQL (DATABASE_URL)' }, async () => {
  const db = await freshDatabase()
  const conn = await db.sql.reserve()
  try {
    await conn`create temp table t (a text not null, b int primary key)`
    const awkward = ['tab\there', 'line\nbreak', 'back\\slash', 'cr\rhere', 'ünïcödé ✓', 'x'.repeat(400_000)]
    const text = new CopyText()
    awkward.forEach((value, i) => text.line(`${copyText(value)}\t${i}\n`))
    await copyRows(conn, 't', 'a, b', text.finish())
    const rows = await conn<{ a: string }[]>`select a from t order by b`
    assert.deepEqual(rows.map((r) => r.a), awkward)

    // The duplicate is found after end(): postgres.js alone would never settle (porsager/postgres#1173).
    const bad = new CopyText()
    bad.line('new\t100\n')
    bad.line('dup\t100\n')
    await assert.rejects(copyRows(conn, 't', 'a, b', bad.finish()), /COPY into t failed: duplicate key/)
    const [{ n }] = await conn<{ n: number }[]>`select count(*)::int as n from t`
    assert.equal(n, awkward.length, 'the rejected COPY wrote nothing, and the connection still works')
  } finally {
    conn.release()
    await db.close()
  }
})

test('seeds a realistic, repeatable catalog', async () => {
  const first = await freshDatabase()
  try {
    const result = await seedCatalog(first.sql, { products: 300, seed: 7 })
    assert.equal(result.products, 300)
    assert.ok(result.categories >= 12)

    const [counts] = await first.sql<{ products: number; categories: number; brands: number; variants: number; stock: number }[]>`
      select (select count(*)::int from catalog.products) as products,
             (select count(*)::int from catalog.categories) as categories,
             (select count(distinct brand)::int from catalog.products) as brands,
             (select count(*)::int from catalog.variants) as variants,
             (select count(*)::int from inventory.stock) as stock`
    assert.equal(counts.products, 300)
    assert.ok(counts.categories >= 10, `${counts.categories} categories`)
    assert.ok(counts.brands >= 10, `${counts.brands} brands`)
    assert.equal(counts.variants, result.variants)

    const perProduct = await first.sql<{ n: number }[]>`
      select count(v.id)::int as n from catalog.products p left join catalog.variants v on v.product_id = p.id group by p.id`
    assert.equal(perProduct.length, 300)
    for (const { n } of perProduct) assert.ok(n >= 1 && n <= 4, `${n} variants`)

    const [orphans] = await first.sql<{ n: number }[]>`
      select count(*)::int as n from catalog.variants v where not exists (select 1 from inventory.stock s where s.variant_id = v.id)`
    assert.equal(orphans.n, 0, 'every variant has a stock row')
    assert.equal(counts.stock, counts.variants)
    // The ledger adds up to the stock from the start: the opening stock is its first entry.
    const [ledger] = await first.sql<{ entries: number; mismatched: number }[]>`
      select (select count(*)::int from inventory.ledger where actor = 'seed' and reason = 'opening stock') as entries,
             (select count(*)::int from inventory.stock s
              where s.available <> coalesce((select sum(delta_available) from inventory.ledger l where l.variant_id = s.variant_id), 0)) as mismatched`
    assert.deepEqual(ledger, { entries: counts.variants, mismatched: 0 })

    const [sample] = await first.sql<{ slug: string; images: string[]; price: string; category_path: string; parent: string | null }[]>`
      select p.slug, p.images, v.price_amount::text as price, p.category_path, c.parent_path as parent
      from catalog.products p join catalog.variants v on v.product_id = p.id
      join catalog.categories c on c.path = p.category_path order by p.id limit 1`
    assert.match(sample.slug, /^[a-z0-9-]+-\d+$/)
    assert.ok(sample.images.length >= 1 && sample.images.length <= 3)
    assert.match(sample.images[0], /^https:\/\/picsum\.photos\/seed\/[a-z0-9-]+\/600\/600$/)
    assert.ok(Number(sample.price) >= 499 && Number(sample.price) <= 49_999)
    assert.equal(sample.parent, sample.category_path.split('/')[0])

    // The same seed again into the same database is refused, with a clear message.
    await assert.rejects(seedCatalog(first.sql, { products: 10, seed: 7 }), /seed 7/)

    const second = await freshDatabase()
    try {
      await seedCatalog(second.sql, { products: 300, seed: 7 })
      const shape = (sql: typeof first.sql) => sql<{ name: string; brand: string; prices: string }[]>`
        select p.name, p.brand, string_agg(v.sku || '=' || v.price_amount, ',' order by v.position) as prices
        from catalog.products p join catalog.variants v on v.product_id = p.id
        group by p.id order by p.id`
      assert.deepEqual(await shape(second.sql), await shape(first.sql))
    } finally {
      await second.close()
    }
  } finally {
    await first.close()
  }
})
