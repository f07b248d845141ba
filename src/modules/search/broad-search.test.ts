// A query that matches more documents than are counted exactly is answered from the first
// matches in table order: the table's layout decides what that sample is. It has to span
// the catalog, or a broad query's facets and results show only a few categories.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestApp, type TestApp } from '../../../test/support/app.ts'
import { seedCatalog } from '../../seed/index.ts'
import { createPgSearchEngine } from './pg-search.ts'

const PRODUCTS = 2_500
/** Small enough that a common word is far past it in a catalog of PRODUCTS. */
const EXACT_LIMIT = 150
/** A word of the seed's descriptions in every department ("Made for long days ...": about half of them). */
const BROAD = 'day'

let t: TestApp

before(async () => {
  t = await startTestApp()
  await seedCatalog(t.platform.sql, { products: PRODUCTS, seed: 7 })
  await t.api.modules.search.reindexIfEmpty() // a first build: lays the table out
})
after(() => t?.close())

test('past the exact limit, the counted matches are an even sample of the whole catalog', async () => {
  const truth = await t.platform.sql<{ category: string; n: number }[]>`
    select category_path as category, count(*)::int as n from search.documents
    where document @@ to_tsquery('english', ${BROAD}) group by 1`
  const matches = truth.reduce((sum, row) => sum + row.n, 0)
  assert.ok(matches > EXACT_LIMIT * 4, `"${BROAD}" matches ${matches} documents, far past the limit`)

  const engine = createPgSearchEngine({ sql: t.platform.sql, statementTimeoutMs: 10_000, exactTotalLimit: EXACT_LIMIT })
  const page = await engine.search({ text: BROAD, filters: {}, sort: 'relevance', limit: 20, after: null, matching: { kind: 'fulltext' } })
  assert.equal(page.totalIsEstimate, true, `total ${page.total} of ${matches}`)

  // Per department (the top of the category tree): each holds about a tenth of the matches.
  const department = (path: string) => path.split('/')[0]
  const truthShare = new Map<string, number>()
  for (const row of truth) truthShare.set(department(row.category), (truthShare.get(department(row.category)) ?? 0) + row.n / matches)
  assert.ok(truthShare.size >= 5, 'the word spans many departments')
  const faceted = new Map(page.facets.category.filter((c) => !c.value.includes('/')).map((c) => [c.value, c.count]))
  const facetTotal = [...faceted.values()].reduce((sum, n) => sum + n, 0)
  // Clustered by category alone, the sample came from the first departments of the
  // alphabet only. An even sample of 150 holds every department, each near its true share
  // (a tenth of the matches: about 2.5 points of standard error; 10 points allowed).
  for (const [name, share] of truthShare) {
    assert.ok(faceted.has(name), `department ${name} (${(share * 100).toFixed(1)} % of the matches) is in the facets`)
    const estimated = faceted.get(name)! / facetTotal
    assert.ok(Math.abs(estimated - share) < 0.1, `${name}: estimated ${(estimated * 100).toFixed(1)} %, truly ${(share * 100).toFixed(1)} %`)
  }
})

test('past the exact limit, a page in price or date order is still exact, page after page', async () => {
  const sampled = createPgSearchEngine({ sql: t.platform.sql, statementTimeoutMs: 10_000, exactTotalLimit: 20 })
  const exact = createPgSearchEngine({ sql: t.platform.sql, statementTimeoutMs: 10_000, exactTotalLimit: 1_000_000 })
  const cases: { text: string; sort: 'price_asc' | 'price_desc' | 'newest' | 'relevance'; filters?: { category?: string; inStock?: boolean } }[] = [
    // Tents are among the dearest products: walking prices from the cheapest end finds none
    // in its budget, so the page comes from sorting all the tents.
    { text: 'tent', sort: 'price_asc' },
    { text: 'tent', sort: 'price_desc' },
    // Half of all descriptions: the walk fills the page at once.
    { text: BROAD, sort: 'price_asc' },
    { text: BROAD, sort: 'newest' },
    // Browsing a department without words, and everything in stock, newest first.
    { text: '', sort: 'price_asc', filters: { category: 'outdoor' } },
    { text: '', sort: 'relevance', filters: { inStock: true } },
  ]
  for (const c of cases) {
    const request = { text: c.text, filters: c.filters ?? {}, sort: c.sort, limit: 7, after: null, matching: { kind: 'fulltext' } as const }
    let [a, b] = [await sampled.search(request), await exact.search(request)]
    assert.equal(a.totalIsEstimate, true, `${c.text || '(browse)'} ${c.sort}: past the limit of 20`)
    assert.equal(b.totalIsEstimate, false)
    for (let page = 1; page <= 3; page++) {
      const ids = (p: typeof a) => p.items.map((item) => item.id)
      assert.equal(ids(a).length, 7)
      assert.deepEqual(ids(a), ids(b), `${c.text || '(browse)'} ${c.sort}, page ${page}: the same items as counting every match`)
      assert.deepEqual(a.next, b.next)
      ;[a, b] = [await sampled.search({ ...request, after: a.next }), await exact.search({ ...request, after: b.next })]
    }
  }
})

test('past the exact limit, a product named exactly what was typed still comes first', async () => {
  // Created after the build, so it sits at the end of the table, past any sample.
  const token = await t.adminToken()
  const created = await t.call('POST', '/admin/products', {
    token,
    body: {
      name: 'Tent',
      description: 'Just a tent.',
      brand: 'Plain',
      category: 'outdoor/tents',
      images: [],
      variants: [{ sku: `TENT-${Date.now()}`, title: 'One size', price: { amount: 9900, currency: 'USD' }, stock: 5 }],
    },
  })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  await t.drainEvents()

  const sampled = createPgSearchEngine({ sql: t.platform.sql, statementTimeoutMs: 10_000, exactTotalLimit: 20 })
  const request = { text: 'tent', filters: {}, sort: 'relevance' as const, limit: 5, after: null, matching: { kind: 'fulltext' } as const }
  const first = await sampled.search(request)
  assert.equal(first.totalIsEstimate, true, `${first.total} matches, past the limit of 20`)
  assert.equal(first.items[0].id, created.body.id)
  assert.equal(first.items.filter((item) => item.id === created.body.id).length, 1)
  const second = await sampled.search({ ...request, after: first.next })
  assert.ok(!second.items.some((item) => item.id === created.body.id), 'and only on the first page')
})

test('past the exact limit, the total is estimated from where the counted matches ended, words that go together included', async () => {
  const exact = createPgSearchEngine({ sql: t.platform.sql, statementTimeoutMs: 10_000, exactTotalLimit: 1_000_000 })
  const sampled = createPgSearchEngine({ sql: t.platform.sql, statementTimeoutMs: 10_000, exactTotalLimit: 20 })
  // "sleeping" and "bag" mostly come together: the planner, taking them as independent,
  // estimated a few matches (below the 21 counted) where there are dozens.
  for (const text of ['sleeping bag', BROAD]) {
    const request = { text, filters: {}, sort: 'relevance' as const, limit: 5, after: null, matching: { kind: 'fulltext' } as const }
    const truth = (await exact.search(request)).total
    const page = await sampled.search(request)
    assert.ok(truth > 40, `${text}: ${truth} matches, well past the limit of 20`)
    assert.equal(page.totalIsEstimate, true)
    const error = Math.abs(page.total - truth) / truth
    assert.ok(error < 0.4, `${text}: estimated ${page.total}, truly ${truth}`)
  }
})

// Last in this file: the updates below undo the table's layout the tests above read.
test('an estimated total when browsing is never more than the table holds, however many rows updates left dead', async () => {
  const engine = createPgSearchEngine({ sql: t.platform.sql, statementTimeoutMs: 10_000, exactTotalLimit: 20 })
  for (let round = 0; round < 3; round++) await t.platform.sql`update search.documents set in_stock = in_stock`
  const [{ n }] = await t.platform.sql<{ n: number }[]>`select count(*)::int as n from search.documents`
  for (const filters of [{}, { inStock: true }]) {
    const page = await engine.search({ text: '', filters, sort: 'relevance', limit: 20, after: null, matching: { kind: 'fulltext' } })
    assert.equal(page.totalIsEstimate, true)
    assert.ok(page.total <= n, `estimated ${page.total} of ${n} documents (${JSON.stringify(filters)})`)
  }
})
