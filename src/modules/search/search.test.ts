import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { startTestApp, type TestApp } from '../../../test/support/app.ts'

interface CorpusProduct {
  name: string
  brand: string
  category: string
  price: number
  stock: number
  description?: string
}

// A small fixed corpus; every expectation below can be checked by reading it.
const CORPUS: CorpusProduct[] = [
  { name: 'Trailrunner Waterproof Hiking Boot', brand: 'Northpeak', category: 'footwear/boots', price: 12999, stock: 5, description: 'A light boot for long days on wet trails.' },
  { name: 'Trail Boot', brand: 'Northpeak', category: 'footwear/boots', price: 8999, stock: 3, description: 'Simple and sturdy.' },
  { name: 'Trail Boot Cleaner Kit', brand: 'Cedar & Pine', category: 'footwear/care', price: 1499, stock: 10, description: 'Brushes and wax for leather.' },
  { name: 'Summit Insulated Winter Boot', brand: 'Alpenglow', category: 'footwear/boots', price: 18999, stock: 0, description: 'Warm to minus forty.' },
  { name: 'City Leather Chelsea Boot', brand: 'Harbor Lane', category: 'footwear/boots', price: 15999, stock: 2, description: 'Smart enough for the office.' },
  { name: 'Everyday Running Shoe', brand: 'Stridewell', category: 'footwear/running', price: 9999, stock: 8, description: 'Cushioned shoe for daily runs.' },
  { name: 'Ridgeline Waterproof Jacket', brand: 'Northpeak', category: 'apparel/jackets', price: 19999, stock: 4, description: 'A shell with taped seams for hiking in the rain.' },
  { name: 'Packable Down Jacket', brand: 'Alpenglow', category: 'apparel/jackets', price: 14999, stock: 1, description: 'Warm and light, packs into its pocket.' },
  { name: 'Merino Crew Shirt', brand: 'Kestrel', category: 'apparel/shirts', price: 5999, stock: 20, description: 'Soft wool that does not itch.' },
  { name: 'Linen Summer Shirt', brand: 'Kestrel', category: 'apparel/shirts', price: 4999, stock: 0, description: 'Cool on hot days.' },
  { name: 'Classic Oxford Shirt', brand: 'Harbor Lane', category: 'apparel/shirts', price: 6999, stock: 7, description: 'Button-down collar.' },
  { name: 'Wool Hiking Socks', brand: 'Northpeak', category: 'apparel/socks', price: 1999, stock: 30, description: 'Cushioned socks to wear with boots.' },
  { name: 'Wireless Noise Cancelling Headphones', brand: 'Voltwave', category: 'electronics/audio', price: 24999, stock: 6, description: 'Thirty hours of battery.' },
  { name: 'Portable Speaker', brand: 'Soniq', category: 'electronics/audio', price: 7999, stock: 9, description: 'Loud and waterproof.' },
  { name: 'Desk Lamp', brand: 'Lumio', category: 'home/lighting', price: 3999, stock: 12, description: 'Warm light for late work.' },
  { name: 'Cast Iron Skillet', brand: 'Hearthstone', category: 'home/kitchen', price: 4499, stock: 3, description: 'Seasoned and ready to cook.' },
  { name: 'Canvas Daypack', brand: 'Cedar & Pine', category: 'outdoor/packs', price: 3499, stock: 4, description: 'Folds flat.' },
]

const productBody = (p: CorpusProduct) => ({
  name: p.name,
  description: p.description ?? '',
  brand: p.brand,
  category: p.category,
  images: [`https://images.example/${randomBytes(3).toString('hex')}.jpg`],
  variants: [{ sku: `S-${randomBytes(5).toString('hex')}`, title: 'One size', price: { amount: p.price, currency: 'USD' }, stock: p.stock }],
})

type Params = Record<string, string | number | boolean | string[]>

function queryString(params: Params): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, String(v))
  }
  return search.toString()
}

describe('search over HTTP', () => {
  let t: TestApp
  let token: string
  const ids = new Map<string, string>()

  const search = async (params: Params) => {
    const res = await t.call('GET', `/store/search?${queryString(params)}`)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body
  }
  const names = (body: { items: { name: string }[] }) => body.items.map((i) => i.name)

  before(async () => {
    // Answers uncached, so that every call reads the index (answer-cache.test.ts covers the cache).
    t = await startTestApp({ env: { SEARCH_CACHE_TTL_MS: '0' } })
    token = await t.adminToken()
    for (const p of CORPUS) {
      const res = await t.call('POST', '/admin/products', { token, body: productBody(p) })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      ids.set(p.name, res.body.id)
    }
    await t.drainEvents()
  })
  after(() => t.close())

  test('answers the API shape with product summaries', async () => {
    const body = await search({ q: 'skillet' })
    assert.deepEqual(Object.keys(body).sort(), ['facets', 'items', 'nextCursor', 'total', 'totalIsEstimate'])
    assert.equal(body.total, 1)
    const [item] = body.items
    assert.equal(item.id, ids.get('Cast Iron Skillet'))
    assert.match(item.slug, /^cast-iron-skillet/)
    assert.deepEqual(
      { name: item.name, brand: item.brand, category: item.category, price: item.price, inStock: item.inStock },
      { name: 'Cast Iron Skillet', brand: 'Hearthstone', category: 'home/kitchen', price: { amount: 4499, currency: 'USD' }, inStock: true },
    )
    assert.match(item.image, /^https:\/\/images\.example\//)
    assert.equal(body.nextCursor, null)
  })

  test('an exact name comes first', async () => {
    const body = await search({ q: 'trail boot' })
    assert.equal(body.items[0].name, 'Trail Boot')
    assert.ok(names(body).includes('Trail Boot Cleaner Kit'))
    assert.equal((await search({ q: 'TRAIL Boot' })).items[0].name, 'Trail Boot', 'in any case')
  })

  test('all words must match', async () => {
    assert.deepEqual(names(await search({ q: 'waterproof jacket' })), ['Ridgeline Waterproof Jacket'])
  })

  test('"quoted phrases" match words side by side', async () => {
    assert.deepEqual(names(await search({ q: '"hiking boot"' })), ['Trailrunner Waterproof Hiking Boot'])
    const loose = names(await search({ q: 'hiking boot ' }))
    assert.deepEqual(loose.sort(), ['Trailrunner Waterproof Hiking Boot', 'Wool Hiking Socks'])
  })

  test('"or" between words finds either, also as the last word is typed', async () => {
    const found = names(await search({ q: 'skillet or lamp' })).sort()
    assert.deepEqual(found, ['Cast Iron Skillet', 'Desk Lamp'])
  })

  test('-word excludes', async () => {
    const found = names(await search({ q: 'boot -waterproof -trail' }))
    assert.deepEqual(found.sort(), ['City Leather Chelsea Boot', 'Summit Insulated Winter Boot', 'Wool Hiking Socks'])
  })

  test('English stemming: "boots" finds "boot", "runs" finds "running"', async () => {
    const boots = names(await search({ q: 'boots ', limit: 100 })) // trailing space: a finished word, no prefix
    assert.ok(boots.includes('Trail Boot') && boots.includes('Summit Insulated Winter Boot'), boots.join())
    assert.ok(names(await search({ q: 'runs ' })).includes('Everyday Running Shoe'))
    // A finished stop word is dropped, not taken as the start of a longer word ("in" -> insulated).
    const boot = await search({ q: 'boot', limit: 100 })
    const bootIn = await search({ q: 'boot in ', limit: 100 })
    assert.deepEqual(names(bootIn).sort(), names(boot).sort())
  })

  test('the last word matches as a prefix while typing', async () => {
    assert.deepEqual(names(await search({ q: 'waterp' })).sort(), ['Portable Speaker', 'Ridgeline Waterproof Jacket', 'Trailrunner Waterproof Hiking Boot'])
    assert.deepEqual(names(await search({ q: 'wool hiki' })), ['Wool Hiking Socks'])
    assert.deepEqual(names(await search({ q: 'headph' })), ['Wireless Noise Cancelling Headphones'])
    // The first letter of the next word narrows nothing yet: the results do not vanish for a keystroke.
    const wool = names(await search({ q: 'wool' })).sort()
    assert.ok(wool.includes('Wool Hiking Socks'))
    assert.deepEqual(names(await search({ q: 'wool h' })).sort(), wool)
    assert.deepEqual(names(await search({ q: 'wool hi' })), ['Wool Hiking Socks'])
    // A hyphenated word while it is typed: its last part is the prefix ("Button-down collar").
    assert.deepEqual(names(await search({ q: 'button-do' })), ['Classic Oxford Shirt'])
    assert.deepEqual(names(await search({ q: 'shirt -button-down' })).sort(), ['Linen Summer Shirt', 'Merino Crew Shirt'])
    assert.equal(names(await search({ q: 'shirt -button-do' })).length, 3, 'an exclusion stays a whole word: no "button-do" to exclude')
  })

  test('a stop word as the last word narrows nothing while it is typed: "jacket in" finds every jacket', async () => {
    // "in" begins "insulated" (no jacket's), and means nothing as a word of its own.
    assert.deepEqual(names(await search({ q: 'jacket in' })).sort(), ['Packable Down Jacket', 'Ridgeline Waterproof Jacket'])
    assert.deepEqual(names(await search({ q: 'boot ins' })), ['Summit Insulated Winter Boot'], 'a prefix past the stop word narrows again')
  })

  test('a whole word typed without a space matches itself, not only the longer known words it begins', async () => {
    // "day" begins "Daypack" (a name's word), and two descriptions say "days".
    const day = names(await search({ q: 'day' })).sort()
    assert.deepEqual(day, ['Canvas Daypack', 'Linen Summer Shirt', 'Trailrunner Waterproof Hiking Boot'])
  })

  test('a prefix finds words of descriptions too, even where a name\'s word starts the same: typing more letters never finds more', async () => {
    // "wa" begins "Waterproof" (names) and "warm" and "wax" (descriptions only).
    const wa = names(await search({ q: 'wa', limit: 100 }))
    for (const longer of ['warm', 'wax', 'waterproof']) {
      const found = names(await search({ q: longer, limit: 100 }))
      assert.ok(found.length > 0)
      assert.deepEqual(found.filter((name) => !wa.includes(name)), [], `"wa" finds all that "${longer}" finds`)
    }
    // Kept in step with the documents: a description's word is counted while a product holds it.
    const lexeme = async () => (await t.platform.sql<{ n: number }[]>`select products as n from search.terms where kind = 'lexeme' and term_key = 'quixot'`)[0]?.n ?? 0
    const named = await t.call('POST', '/admin/products', { token, body: productBody({ name: 'Quokka Plush', brand: 'Toyland', category: 'toys/plush', price: 1999, stock: 3 }) })
    const described = await t.call('POST', '/admin/products', { token, body: productBody({ name: 'Plain Mug', brand: 'Toyland', category: 'home/kitchen', price: 999, stock: 3, description: 'A quixotic gift.' }) })
    await t.drainEvents()
    assert.equal(await lexeme(), 1)
    assert.deepEqual(names(await search({ q: 'qu' })).sort(), ['Plain Mug', 'Quokka Plush'])
    await t.call('PATCH', `/admin/products/${described.body.id}`, { token, body: { description: 'A plain gift.' } })
    await t.drainEvents()
    assert.equal(await lexeme(), 0, 'counted down when the description changes')
    for (const id of [named.body.id, described.body.id]) await t.call('DELETE', `/admin/products/${id}`, { token })
    await t.drainEvents()
  })

  test('a typo falls back to similar names and brands, with didYouMean', async () => {
    const body = await search({ q: 'trialrunner' })
    assert.equal(body.didYouMean, 'trailrunner')
    assert.equal(body.items[0].name, 'Trailrunner Waterproof Hiking Boot')

    const brand = await search({ q: 'northpaek' })
    assert.equal(brand.didYouMean, 'northpeak')
    assert.ok(brand.items.length >= 4 && brand.items.every((i: { brand: string }) => i.brand === 'Northpeak'))

    const fine = await search({ q: 'jacket' })
    assert.equal(fine.didYouMean, undefined)
  })

  test('swapped letters in short words are corrected, where trigrams see too little alike', async () => {
    // "lmap" and "lamp" share one trigram of nine; one swap apart.
    const lamp = await search({ q: 'dsek lmap' })
    assert.equal(lamp.didYouMean, 'desk lamp')
    assert.equal(lamp.items[0].name, 'Desk Lamp')
    const socks = await search({ q: 'wool scoks' })
    assert.equal(socks.didYouMean, 'wool socks')
    assert.equal(socks.items[0].name, 'Wool Hiking Socks')
    // A dropped letter is one edit too.
    const skillet = await search({ q: 'skilet' })
    assert.equal(skillet.didYouMean, 'skillet')
    assert.deepEqual(names(skillet), ['Cast Iron Skillet'])
    // A word cut short is a typo unless it is the last one (typed as a prefix): "hikin"
    // begins "hiking", but only a last word matches that way.
    const cut = await search({ q: 'hikin boot' })
    assert.equal(cut.didYouMean, 'hiking boot')
    assert.equal(cut.items[0].name, 'Trailrunner Waterproof Hiking Boot')
    assert.ok((await search({ q: 'boot hikin' })).items.some((i: { name: string }) => i.name === 'Trailrunner Waterproof Hiking Boot'))
    // A typo, then a last word still being typed: corrected, and the last word still a prefix.
    const typing = await search({ q: 'hikin boo' })
    assert.equal(typing.didYouMean, 'hiking boo')
    assert.equal(typing.items[0]?.name, 'Trailrunner Waterproof Hiking Boot')
  })

  test('filters: category with subcategories, several brands, price range, in stock', async () => {
    assert.equal((await search({ category: 'apparel' })).total, 6)
    assert.equal((await search({ category: 'apparel/shirts' })).total, 3)
    assert.equal((await search({ category: 'app' })).total, 0, 'a category is a whole path segment')
    assert.deepEqual(names(await search({ q: 'shirt', brand: ['Kestrel'] })).sort(), ['Linen Summer Shirt', 'Merino Crew Shirt'])
    assert.equal((await search({ brand: ['Kestrel', 'Harbor Lane'] })).total, 4)
    const priced = await search({ category: 'footwear', minPrice: 9999, maxPrice: 15999, limit: 100 })
    assert.deepEqual(names(priced).sort(), ['City Leather Chelsea Boot', 'Everyday Running Shoe', 'Trailrunner Waterproof Hiking Boot'])
    const inStock = names(await search({ q: 'shirt', inStock: true }))
    assert.deepEqual(inStock.sort(), ['Classic Oxford Shirt', 'Merino Crew Shirt'])
  })

  test('facet counts equal SQL counts of the same filter', async () => {
    // Counted independently from the catalog and inventory tables.
    const expected = async (where: string) => {
      const rows = await t.platform.sql.unsafe<{ kind: string; value: string; n: number }[]>(`
        with hits as (
          select p.brand, p.category_path, min(v.price_amount) as price
          from catalog.products p join catalog.variants v on v.product_id = p.id
          where p.deleted_at is null and ${where}
          group by p.id
        )
        select 'brand' as kind, brand as value, count(*)::int as n from hits group by brand
        union all
        select 'category', c.path, count(*)::int from hits h
          join catalog.categories c on h.category_path = c.path or h.category_path like c.path || '/%' group by c.path
        union all
        select 'price', b.lo::text, count(*)::int from hits h
          join (values (0, 1000), (1000, 2500), (2500, 5000), (5000, 10000), (10000, 25000), (25000, 50000), (50000, null)) b(lo, hi)
            on h.price >= b.lo and (b.hi is null or h.price < b.hi) group by b.lo`)
      const of = (kind: string) => Object.fromEntries(rows.filter((r) => r.kind === kind).map((r) => [r.value, r.n]))
      return { brand: of('brand'), category: of('category'), price: of('price') }
    }
    const actual = (body: { facets: { brand: { value: string; count: number }[]; category: { value: string; count: number }[]; price: { min: number; count: number }[] } }) => ({
      brand: Object.fromEntries(body.facets.brand.map((f) => [f.value, f.count])),
      category: Object.fromEntries(body.facets.category.map((f) => [f.value, f.count])),
      price: Object.fromEntries(body.facets.price.map((f) => [String(f.min), f.count])),
    })
    const inStock = `exists (select 1 from catalog.variants sv join inventory.stock s on s.variant_id = sv.id where sv.product_id = p.id and s.available > 0)`

    const browse = await search({ category: 'footwear', inStock: true })
    assert.deepEqual(actual(browse), await expected(`(p.category_path like 'footwear/%') and ${inStock}`))
    assert.equal(browse.total, Object.values(actual(browse).brand).reduce((a, b) => a + b, 0))

    const text = await search({ q: 'boot', minPrice: 1000 })
    const fts = `to_tsvector('english', p.name || ' ' || p.brand || ' ' || translate(p.category_path, '/-', '  ') || ' ' || p.description) @@ plainto_tsquery('english', 'boot')`
    assert.deepEqual(actual(text), await expected(`${fts} and p.id in (select product_id from catalog.variants group by product_id having min(price_amount) >= 1000)`))
    assert.ok(text.facets.price.every((b: { min: number; max: number | null }) => b.max === null || b.max > b.min))
    // A bucket turned into a filter finds exactly what it counted (both bounds inclusive).
    for (const bucket of text.facets.price as { min: number; max: number | null; count: number }[]) {
      const filtered = await search({ q: 'boot', minPrice: bucket.min, ...(bucket.max !== null && { maxPrice: bucket.max }) })
      assert.equal(filtered.total, bucket.count, JSON.stringify(bucket))
    }
  })

  test('pages by keyset in every sort with no duplicates or gaps', async () => {
    for (const params of [{ sort: 'relevance', q: 'boot' }, { sort: 'price_asc' }, { sort: 'price_desc', category: 'footwear' }, { sort: 'newest' }, { sort: 'relevance' }] as Params[]) {
      const all = await search({ ...params, limit: 100 })
      const seen: string[] = []
      let cursor: string | null = null
      do {
        const page: { items: { id: string }[]; nextCursor: string | null; total: number } = await search({ ...params, limit: 3, ...(cursor ? { cursor } : {}) })
        assert.equal(page.total, all.total)
        assert.ok(page.items.length <= 3)
        seen.push(...page.items.map((i) => i.id))
        cursor = page.nextCursor
      } while (cursor)
      assert.deepEqual(seen, all.items.map((i: { id: string }) => i.id), JSON.stringify(params))
      assert.equal(new Set(seen).size, seen.length)
    }
    const prices = (await search({ sort: 'price_asc', limit: 100 })).items.map((i: { price: { amount: number } }) => i.price.amount)
    assert.deepEqual(prices, [...prices].sort((a, b) => a - b))
  })

  test('a relevance cursor stays in place when the vocabulary changes: a new product elsewhere moves no page', async () => {
    // The last word is a prefix, expanded through the vocabulary: a product in another
    // category adds a word that starts with it.
    const params = { q: 'tr', category: 'footwear' }
    const all = (await search({ ...params, limit: 100 })).items.map((i: { id: string }) => i.id)
    assert.ok(all.length >= 3, `a query with pages to turn (${all.length} matches)`)
    const first = await search({ ...params, limit: 1 })
    const created = await t.call('POST', '/admin/products', {
      token,
      body: productBody({ name: 'Travel Trunk Tray', brand: 'Tremont', category: 'home/decor', price: 5999, stock: 2 }),
    })
    await t.drainEvents()
    const seen: string[] = first.items.map((i: { id: string }) => i.id)
    let cursor: string | null = first.nextCursor
    while (cursor && seen.length <= all.length) {
      const page: { items: { id: string }[]; nextCursor: string | null } = await search({ ...params, limit: 1, cursor })
      seen.push(...page.items.map((i) => i.id))
      cursor = page.nextCursor
    }
    assert.deepEqual(seen, all, 'every match once, in the order of the first page')
    await t.call('DELETE', `/admin/products/${created.body.id}`, { token })
    await t.drainEvents()
  })

  test('the index follows a create, an update and a delete; redelivery changes nothing', async () => {
    const created = await t.call('POST', '/admin/products', {
      token,
      body: productBody({ name: 'Zeppelin Umbrella', brand: 'Skyward', category: 'accessories/umbrellas', price: 2999, stock: 4 }),
    })
    const id = created.body.id
    assert.equal((await search({ q: 'zeppelin' })).total, 0, 'not before the event is delivered')
    await t.drainEvents()
    assert.deepEqual(names(await search({ q: 'zeppelin' })), ['Zeppelin Umbrella'])

    await t.call('PATCH', `/admin/products/${id}`, { token, body: { name: 'Zephyr Umbrella', brand: 'Skyline' } })
    await t.drainEvents()
    assert.equal((await search({ q: 'zeppelin ' })).total, 0)
    const renamed = await search({ q: 'zephyr' })
    assert.deepEqual(names(renamed), ['Zephyr Umbrella'])
    assert.equal(renamed.items[0].brand, 'Skyline')
    const suggestions = (await t.call('GET', '/store/search/suggest?q=ze')).body.items.map((s: { text: string }) => s.text)
    assert.deepEqual(suggestions, ['Zephyr Umbrella'])

    // An old event delivered again (at least once) re-reads the current state: nothing changes.
    const [event] = await t.platform.sql<{ event_id: string; payload: { productId: string } }[]>`
      select event_id, payload from platform.outbox where payload->>'productId' = ${id} order by id limit 1`
    for (let i = 0; i < 2; i++) {
      await t.platform.sql.begin((tx) =>
        t.api.modules.search.onProductsUpdated([{ eventId: event.event_id, type: 'product.updated', payload: event.payload, createdAt: new Date().toISOString() }], tx),
      )
    }
    assert.deepEqual(names(await search({ q: 'zephyr' })), ['Zephyr Umbrella'])
    const [terms] = await t.platform.sql<{ n: number }[]>`select products as n from search.terms where kind = 'name' and term_key = 'zephyr umbrella'`
    assert.equal(terms.n, 1, 'completions are counted once')

    await t.call('DELETE', `/admin/products/${id}`, { token })
    await t.drainEvents()
    assert.equal((await search({ q: 'zephyr' })).total, 0)
    assert.deepEqual((await t.call('GET', '/store/search/suggest?q=ze')).body.items, [])
  })

  test('newest first pages through products created within one millisecond, and keeps two changes within one in order', async () => {
    const ids: string[] = []
    for (const name of ['Quillon Lantern', 'Quillon Lamp', 'Quillon Torch']) {
      const created = await t.call('POST', '/admin/products', { token, body: productBody({ name, brand: 'Skyward', category: 'accessories/lights', price: 1999, stock: 2 }) })
      ids.push(created.body.id)
    }
    // PostgreSQL keeps microseconds: three products in one millisecond, as an import creates them.
    for (const [i, id] of ids.entries()) await t.platform.sql`update catalog.products set created_at = ${`2026-01-01T00:00:00.000${i + 1}00Z`}::text::timestamptz where id = ${id}`
    await t.drainEvents()
    await t.platform.sql.begin((tx) => t.api.modules.search.onProductsUpdated(ids.map((id) => ({ eventId: randomUUID(), type: 'product.updated', payload: { productId: id }, createdAt: new Date().toISOString() })), tx))
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: { items: { id: string }[]; nextCursor: string | null } = await search({ q: 'quillon', sort: 'newest', limit: 1, ...(cursor ? { cursor } : {}) })
      seen.push(...page.items.map((i) => i.id))
      cursor = page.nextCursor
    } while (cursor && seen.length < 10)
    assert.deepEqual(seen, [...ids].reverse(), 'every one once, newest first')

    // Two states of one product a microsecond apart, within one millisecond: once the newer
    // is indexed, a read of the older one (a refresh that read before it) changes nothing.
    const [id] = ids
    const indexAs = async (name: string, updatedAt: string) => {
      await t.platform.sql`update catalog.products set name = ${name}, updated_at = ${updatedAt}::text::timestamptz where id = ${id}`
      await t.platform.sql.begin((tx) => t.api.modules.search.onProductsUpdated([{ eventId: randomUUID(), type: 'product.updated', payload: { productId: id }, createdAt: new Date().toISOString() }], tx))
      return (await t.platform.sql<{ name: string }[]>`select name from search.documents where product_id = ${id}`)[0].name
    }
    assert.equal(await indexAs('Quillon Lantern Newer', '2030-01-01T00:00:00.000457Z'), 'Quillon Lantern Newer')
    assert.equal(await indexAs('Quillon Lantern Older', '2030-01-01T00:00:00.000456Z'), 'Quillon Lantern Newer', 'the older state does not overwrite the newer')
    for (const id of ids) await t.call('DELETE', `/admin/products/${id}`, { token })
    await t.drainEvents()
  })

  test('the index follows every change, whatever the clocks: a change is versioned by the database, past the one before', async () => {
    const created = await t.call('POST', '/admin/products', {
      token,
      body: productBody({ name: 'Clockwork Kettle', brand: 'Skyward', category: 'kitchen/kettles', price: 3999, stock: 4 }),
    })
    const id = created.body.id
    // The last change came from a host whose clock ran an hour ahead (or the database's was
    // set back since), and the index holds it.
    await t.drainEvents()
    await t.platform.sql`update catalog.products set updated_at = now() + interval '1 hour' where id = ${id}`
    const event = { eventId: randomUUID(), type: 'product.updated', payload: { productId: id }, createdAt: new Date().toISOString() }
    await t.platform.sql.begin((tx) => t.api.modules.search.onProductsUpdated([event], tx))
    assert.equal((await t.call('PATCH', `/admin/products/${id}`, { token, body: { brand: 'Skyline' } })).status, 200)
    await t.drainEvents()
    assert.equal((await search({ q: 'clockwork' })).items[0].brand, 'Skyline')
    assert.equal((await t.call('PATCH', `/admin/products/${id}`, { token, body: { name: 'Springwork Kettle' } })).status, 200)
    await t.drainEvents()
    assert.deepEqual(names(await search({ q: 'springwork' })), ['Springwork Kettle'], 'a later change is never refused as older')
    assert.equal((await search({ q: 'clockwork ' })).total, 0)
    await t.call('DELETE', `/admin/products/${id}`, { token })
    await t.drainEvents()
    assert.equal((await search({ q: 'springwork' })).total, 0)
  })

  test('the in-stock filter follows stock changes', async () => {
    const lamp = await t.call('GET', `/admin/products/${ids.get('Desk Lamp')}`, { token })
    const variantId = lamp.body.variants[0].id
    const inStockLamps = async () => (await search({ q: 'lamp', inStock: true })).total
    assert.equal(await inStockLamps(), 1)
    assert.equal((await t.call('PUT', `/admin/inventory/${variantId}`, { token, body: { available: 0 } })).status, 200)
    await t.drainEvents()
    assert.equal(await inStockLamps(), 0)
    assert.equal((await search({ q: 'lamp' })).items[0].inStock, false)
    await t.call('PUT', `/admin/inventory/${variantId}`, { token, body: { available: 5 } })
    await t.drainEvents()
    assert.equal(await inStockLamps(), 1)
  })

  test('bad input answers 400 validation_failed naming the parameter', async () => {
    const cases: [string, string][] = [
      ['sort=best', 'sort'],
      ['limit=101', 'limit'],
      ['limit=0', 'limit'],
      ['cursor=garbage', 'cursor'],
      ['cursor=eyJ2IjoxfQ', 'cursor'],
      ['minPrice=5000&maxPrice=100', 'minPrice'],
      ['minPrice=-1', 'minPrice'],
      ['maxPrice=abc', 'maxPrice'],
      ['category=Not%20A%20Path', 'category'],
      ['inStock=maybe', 'inStock'],
      [`q=${'x'.repeat(201)}`, 'q'],
    ]
    for (const [query, path] of cases) {
      const res = await t.call('GET', `/store/search?${query}`)
      assert.equal(res.status, 400, query)
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
      assert.equal(res.body.code, 'validation_failed', query)
      assert.equal(res.body.errors[0].path, path, query)
    }
    const badCategory = await t.call('GET', '/store/search?category=Apparel/Shirts')
    assert.match(badCategory.body.errors[0].message, /slug path/, 'said in words, not as a regular expression')
    // A cursor given out for one query is refused for another.
    const first = await search({ q: 'boot', limit: 1 })
    const other = await t.call('GET', `/store/search?q=shirt&limit=1&cursor=${first.nextCursor}`)
    assert.equal(other.status, 400)
    assert.equal(other.body.errors[0].path, 'cursor')
    const otherSort = await t.call('GET', `/store/search?q=boot&limit=1&sort=newest&cursor=${first.nextCursor}`)
    assert.equal(otherSort.status, 400)
    // A real cursor with a key PostgreSQL cannot read back: 400, not a 503 from the database.
    const forge = (cursor: string, change: Record<string, unknown>) =>
      Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(cursor, 'base64url').toString()), ...change })).toString('base64url')
    const byPrice = await search({ sort: 'price_asc', limit: 1 })
    const byDate = await search({ sort: 'newest', limit: 1 })
    const forged: [string, string][] = [
      ['sort=price_asc', forge(byPrice.nextCursor, { k: '9999999999999999999' })],
      ['sort=newest', forge(byDate.nextCursor, { k: '0000-01-01T00:00:00.000000Z' })],
      ['sort=newest', forge(byDate.nextCursor, { k: '2026-02-30T00:00:00.000000Z' })],
      ['sort=newest', forge(byDate.nextCursor, { k: '2026-01-01T24:00:00.000000Z' })],
      ['sort=price_asc', forge(byPrice.nextCursor, { c: 'boot\u0000' })],
    ]
    for (const [sort, cursor] of forged) {
      const res = await t.call('GET', `/store/search?${sort}&limit=1&cursor=${cursor}`)
      assert.equal(res.status, 400, `${sort} ${Buffer.from(cursor, 'base64url').toString()}`)
      assert.equal(res.body.errors[0].path, 'cursor')
    }
  })

  test('an edited cursor is a 400 and never a query: its correction can only be one of its own text', async () => {
    const forge = (cursor: string, change: Record<string, unknown>) =>
      Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(cursor, 'base64url').toString()), ...change })).toString('base64url')
    const plain = await search({ q: 'boot', limit: 1 })
    const typo = await search({ q: 'northpaek', limit: 1 })
    assert.equal(typo.didYouMean, 'northpeak')
    const forged: [string, string][] = [
      // Dashes PostgreSQL's websearch_to_tsquery fails on ("tsquery stack too small"): a
      // database error each time, and six of them opened the search breaker for everyone.
      ['boot', forge(plain.nextCursor, { c: '-'.repeat(60) })],
      ['northpaek', forge(typo.nextCursor, { c: '-'.repeat(60) })],
      // Another query under this one's name.
      ['northpaek', forge(typo.nextCursor, { c: 'boot' })],
      ['northpaek', forge(typo.nextCursor, { c: 'northpeak -x' })],
    ]
    for (let round = 0; round < 3; round++) {
      for (const [q, cursor] of forged) {
        const res = await t.call('GET', `/store/search?q=${q}&limit=1&cursor=${cursor}`)
        assert.equal(res.status, 400, `${q} ${Buffer.from(cursor, 'base64url').toString()}`)
        assert.equal(res.body.errors[0].path, 'cursor')
      }
    }
    assert.equal((await t.call('GET', '/store/search?q=boot')).status, 200, 'search is still on')
    // The cursors given out still work.
    assert.equal((await t.call('GET', `/store/search?q=northpaek&limit=1&cursor=${typo.nextCursor}`)).status, 200)
    const brand = await t.call('GET', `/store/search?q=boot&brand=${encodeURIComponent('North\u0000peak')}`)
    assert.equal(brand.status, 400, 'a NUL in a brand: refused, not a 500 from PostgreSQL')
    assert.match(brand.body.errors[0].path, /^brand/)
  })

  test('a word only descriptions hold is a word, not a typo; a last word no known word starts with is one', async () => {
    // "cool" is in one description only ("Cool on hot days."): the full-text answer stands.
    // As a typo it became "wool", and the shirts whose names look like "shirt cool".
    const cool = await search({ q: 'shirt cool' })
    assert.deepEqual(names(cool), ['Linen Summer Shirt'])
    assert.equal(cool.didYouMean, undefined)
    // "bots" begins no known word ("bottle" would have its stem, "bot"): a typo of "boots".
    const bots = await search({ q: 'hiking bots' })
    assert.ok(bots.didYouMean, JSON.stringify(bots))
    assert.ok(names(bots).includes('Trailrunner Waterproof Hiking Boot'))
  })

  test('a finished last word (a trailing space) still puts the product named so first', async () => {
    // Ranked by the words alone, this one comes before "Trail Boot": it says them more often.
    const laces = await t.call('POST', '/admin/products', {
      token,
      body: productBody({ name: 'Trail Boot Laces', brand: 'Northpeak', category: 'footwear/care', price: 599, stock: 9, description: 'Laces for a trail boot: trail boot laces, for any trail boot.' }),
    })
    await t.drainEvents()
    try {
      assert.equal((await search({ q: 'boot trail ' })).items[0].name, 'Trail Boot Laces', 'no product is named "boot trail"')
      for (const q of ['trail boot', 'trail boot ']) assert.equal((await search({ q })).items[0].name, 'Trail Boot', JSON.stringify(q))
    } finally {
      await t.call('DELETE', `/admin/products/${laces.body.id}`, { token })
      await t.drainEvents()
    }
  })

  test('lower case as PostgreSQL makes it: completions and exact names of words with İ', async () => {
    const created = await t.call('POST', '/admin/products', { token, body: productBody({ name: 'İpek Silk Scarf', brand: 'Bosphorus', category: 'apparel/scarves', price: 3999, stock: 3 }) })
    await t.drainEvents()
    try {
      for (const q of ['ip', 'İp', 'İpek s']) {
        const texts = (await t.call('GET', `/store/search/suggest?q=${encodeURIComponent(q)}`)).body.items.map((s: { text: string }) => s.text)
        assert.ok(texts.includes('İpek Silk Scarf'), `${q}: ${JSON.stringify(texts)}`)
      }
      assert.equal((await search({ q: 'İpek silk scarf' })).items[0].name, 'İpek Silk Scarf')
    } finally {
      await t.call('DELETE', `/admin/products/${created.body.id}`, { token })
      await t.drainEvents()
    }
  })

  test('any text in q is just text', async () => {
    const nasty = [
      `"`, `'`, `''`, `boot:*`, `boot:A`, `a & b | !c`, `(boot`, `boot)`, `!!!`, `\\`, `boot\\`, `<->`, `boot <-> trail`,
      `-`, `--boot`, `"unclosed phrase`, `%`, `_`, `*`, `:`, `&`, `|`, `or`, `-or`, `"" "" ""`, `\u0000boot`, `boot\u0007`,
      '-'.repeat(33), '- '.repeat(40), '-- '.repeat(40), '(-)'.repeat(40), 'boot -',
      `ブーツ`, `🥾 boot`, `½ a²b ⅻ`, `boot½`, `DROP TABLE search.documents; --`, `' or 1=1 --`, `$1`, `${'a'.repeat(200)}`, `${'boot '.repeat(40)}`,
    ]
    for (const q of nasty) {
      const res = await t.call('GET', `/store/search?q=${encodeURIComponent(q)}`)
      assert.equal(res.status, 200, `${JSON.stringify(q)}: ${JSON.stringify(res.body)}`)
      const suggest = await t.call('GET', `/store/search/suggest?q=${encodeURIComponent(q.slice(0, 100))}`)
      assert.equal(suggest.status, 200, `suggest ${JSON.stringify(q)}`)
    }
    assert.deepEqual(names(await search({ q: 'boot:*' })).includes('Trail Boot'), true, 'punctuation is ignored, the word still counts')
    assert.equal((await t.call('GET', `/store/search?q=${encodeURIComponent('%00')}&brand=${encodeURIComponent("' or 1=1")}`)).status, 200)
  })

  test('suggest completes names and brands from a prefix, brands first, at most 8', async () => {
    const res = await t.call('GET', '/store/search/suggest?q=Tra')
    assert.equal(res.status, 200)
    assert.deepEqual(res.body.items, [
      { text: 'Trail Boot', kind: 'name' },
      { text: 'Trail Boot Cleaner Kit', kind: 'name' },
      { text: 'Trailrunner Waterproof Hiking Boot', kind: 'name' },
    ])
    const brand = (await t.call('GET', '/store/search/suggest?q=north')).body.items
    assert.deepEqual(brand, [{ text: 'Northpeak', kind: 'brand' }])
    const kestrel = (await t.call('GET', '/store/search/suggest?q=k')).body.items
    assert.deepEqual(kestrel[0], { text: 'Kestrel', kind: 'brand' })
    const trailing = (await t.call('GET', '/store/search/suggest?q=trail%20boot%20')).body.items
    assert.deepEqual(trailing, [{ text: 'Trail Boot Cleaner Kit', kind: 'name' }])
    assert.deepEqual((await t.call('GET', '/store/search/suggest?q=%20')).body.items, [])
    assert.equal((await t.call('GET', '/store/search/suggest?q=a&limit=9')).status, 400)
    assert.ok((await t.call('GET', '/store/search/suggest?q=c')).body.items.length <= 8)
  })
})

test('a long text with no word near a known one is not compared with every name by trigrams (a line of gibberish cost up to a second)', async () => {
  const queries: string[] = []
  const app = await startTestApp({ env: { SEARCH_CACHE_TTL_MS: '0' }, onQuery: (text) => queries.push(text) })
  try {
    const res = await app.call('POST', '/admin/products', { token: await app.adminToken(), body: productBody(CORPUS[0]) })
    assert.equal(res.status, 201)
    await app.drainEvents()
    const trigramQueries = () => queries.filter((q) => q.includes('<%')).length
    const short = await app.call('GET', `/store/search?q=${encodeURIComponent('Trialrunnre')}`)
    assert.equal(short.status, 200)
    assert.ok(trigramQueries() > 0, 'a short typo is compared with names')
    const before = trigramQueries()
    const gibberish = Array.from({ length: 8 }, (_, i) => `qzxwvk${'bcdfgh'[i % 6]}rtplm`).join(' ')
    assert.ok(gibberish.length > 64)
    const long = await app.call('GET', `/store/search?q=${encodeURIComponent(gibberish)}`)
    assert.deepEqual([long.status, long.body.total, long.body.didYouMean], [200, 0, undefined])
    assert.equal(trigramQueries(), before, 'no trigram comparison for it')
  } finally {
    await app.close()
  }
})
