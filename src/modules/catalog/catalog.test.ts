import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { sampleProduct, startTestApp, type TestApp } from '../../../test/support/app.ts'

describe('catalog over HTTP', () => {
  let t: TestApp
  let token: string
  const queries: string[] = []

  before(async () => {
    t = await startTestApp({ onQuery: (text) => queries.push(text) })
    token = await t.adminToken()
  })
  after(() => t.close())

  const create = async (overrides: Record<string, unknown> = {}) => {
    const res = await t.call('POST', '/admin/products', { token, body: sampleProduct(overrides) })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return res.body
  }
  const catalogQueries = () => queries.filter((q) => q.includes('catalog.products')).length

  test('create answers the whole product as the store shows it', async () => {
    const product = await create()
    assert.match(product.id, /^\d+$/)
    assert.equal(product.slug.startsWith('trailrunner-waterproof-hiking-boot'), true)
    const accented = await t.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Crème Brûlée Set' }) })
    assert.equal(accented.body.slug.startsWith('creme-brulee-set'), true, accented.body.slug)
    assert.equal(product.brand, 'Northpeak')
    assert.equal(product.category, 'footwear/boots')
    assert.deepEqual(product.images, ['https://images.example/boot.jpg'])
    assert.equal(product.variants.length, 2)
    assert.deepEqual(product.variants[0].price, { amount: 12999, currency: 'USD' })
    assert.equal(product.variants[0].inStock, true)
    assert.equal(product.variants[1].inStock, false, 'stock 0 is not in stock')

    const read = await t.call('GET', `/store/products/${product.id}`)
    assert.equal(read.status, 200)
    assert.deepEqual(read.body, product)
  })

  test('an unknown category path is created with its ancestors and shows in the tree', async () => {
    await create({ category: 'outdoor/camping/tents' })
    const tree = await t.call('GET', '/store/categories')
    const outdoor = tree.body.items.find((c: { path: string }) => c.path === 'outdoor')
    assert.ok(outdoor, 'top-level category exists')
    assert.equal(outdoor.name, 'Outdoor')
    assert.equal(outdoor.children[0].path, 'outdoor/camping')
    assert.equal(outdoor.children[0].children[0].path, 'outdoor/camping/tents')
  })

  test('update changes fields and variant prices, and a read right after shows it', async () => {
    const product = await create()
    await t.call('GET', `/store/products/${product.id}`) // cache it
    const res = await t.call('PATCH', `/admin/products/${product.id}`, {
      token,
      body: {
        name: 'Trailrunner Boot II',
        variants: [
          { id: product.variants[0].id, price: { amount: 9999, currency: 'USD' } },
          { sku: `NEW-${product.id}`, title: 'EU 44', price: { amount: 10999, currency: 'USD' }, stock: 3 },
        ],
      },
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.name, 'Trailrunner Boot II')
    assert.equal(res.body.variants[0].price.amount, 9999)
    assert.equal(res.body.variants.length, 3)
    assert.equal(res.body.variants[2].inStock, true)

    const read = await t.call('GET', `/store/products/${product.id}`)
    assert.equal(read.body.name, 'Trailrunner Boot II')
    assert.equal(read.body.variants[0].price.amount, 9999)
  })

  test('delete removes the product from the store, list included', async () => {
    const product = await create({ category: 'deleted-things' })
    await t.call('GET', `/store/products/${product.id}`)
    const res = await t.call('DELETE', `/admin/products/${product.id}`, { token })
    assert.equal(res.status, 204)
    assert.equal((await t.call('GET', `/store/products/${product.id}`)).status, 404)
    const list = await t.call('GET', '/store/products?category=deleted-things')
    assert.deepEqual(list.body.items, [])
    assert.equal((await t.call('DELETE', `/admin/products/${product.id}`, { token })).status, 404)
  })

  test('a deleted product lets go of its slug and its SKUs: the same product can be created again', async () => {
    const slug = `again-${randomUUID().slice(0, 8)}`
    const body = sampleProduct({ slug })
    const first = await t.call('POST', '/admin/products', { token, body })
    assert.equal(first.status, 201, JSON.stringify(first.body))
    assert.equal((await t.call('DELETE', `/admin/products/${first.body.id}`, { token })).status, 204)
    const again = await t.call('POST', '/admin/products', { token, body })
    assert.equal(again.status, 201, JSON.stringify(again.body))
    assert.deepEqual(again.body.variants.map((v: { sku: string }) => v.sku), first.body.variants.map((v: { sku: string }) => v.sku))
    assert.equal(again.body.slug, slug)
  })

  test('an id written with a leading zero is no id: an admin write to it is a 404 that changes nothing, and the store keeps answering the product as it is', async () => {
    const product = await create({ name: 'Zero Padded Lamp' })
    const padded = `0${product.id}`
    await t.call('GET', `/store/products/${product.id}`) // cached
    const patched = await t.call('PATCH', `/admin/products/${padded}`, { token, body: { name: 'Renamed Through Zero' } })
    assert.equal(patched.status, 404)
    assert.equal((await t.call('DELETE', `/admin/products/${padded}`, { token })).status, 404)
    const [row] = await t.platform.sql<{ name: string; deleted: boolean }[]>`select name, deleted_at is not null as deleted from catalog.products where id = ${product.id}`
    assert.deepEqual(row, { name: 'Zero Padded Lamp', deleted: false }, 'nothing changed in the database')
    assert.equal((await t.call('GET', `/store/products/${product.id}`)).body.name, 'Zero Padded Lamp')
    // Nor a variant named so in a change (one change of it could hide behind the other).
    const variant = product.variants[0].id
    const twice = await t.call('PATCH', `/admin/products/${product.id}`, { token, body: { variants: [{ id: variant, title: 'aa' }, { id: `0${variant}`, title: 'bb' }] } })
    assert.equal(twice.status, 400)
    assert.equal(twice.body.errors[0].path, 'variants.1.id')
    assert.equal((await t.call('GET', `/admin/inventory/0${variant}`, { token })).status, 404)
  })

  test('unknown and malformed ids answer 404 problem+json', async () => {
    for (const id of ['999999999', 'not-an-id']) {
      const res = await t.call('GET', `/store/products/${id}`)
      assert.equal(res.status, 404)
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
      assert.equal(res.body.code, 'not_found')
    }
  })

  test('a cache hit does not query PostgreSQL', async () => {
    const product = await create()
    await t.call('GET', `/store/products/${product.id}`)
    const before = catalogQueries()
    for (let i = 0; i < 20; i++) assert.equal((await t.call('GET', `/store/products/${product.id}`)).status, 200)
    assert.equal(catalogQueries(), before)
  })

  test('100 concurrent reads of a cold key make one query', async () => {
    const product = await create()
    await t.api.modules.catalog.invalidateProduct(product.id)
    const before = catalogQueries()
    const answers = await Promise.all(Array.from({ length: 100 }, () => t.call('GET', `/store/products/${product.id}`)))
    assert.ok(answers.every((a) => a.status === 200 && a.body.id === product.id))
    assert.equal(catalogQueries() - before, 1)
  })

  test('ETag, Cache-Control and 304 on If-None-Match', async () => {
    const product = await create()
    const first = await t.call('GET', `/store/products/${product.id}`)
    const etag = first.headers.get('etag')
    assert.match(etag ?? '', /^".+"$/)
    assert.match(first.headers.get('cache-control') ?? '', /public, max-age=\d+, stale-while-revalidate=\d+/)
    const again = await t.call('GET', `/store/products/${product.id}`, { headers: { 'if-none-match': etag! } })
    assert.equal(again.status, 304)
    assert.equal(again.body, null)
    // Weak comparison: a weakened tag (a compressing proxy), a list holding it, and *.
    for (const header of [`W/${etag}`, `"other", ${etag}`, '*']) {
      assert.equal((await t.call('GET', `/store/products/${product.id}`, { headers: { 'if-none-match': header } })).status, 304, header)
    }
    assert.equal((await t.call('GET', `/store/products/${product.id}`, { headers: { 'if-none-match': '"other"' } })).status, 200)

    await t.call('PATCH', `/admin/products/${product.id}`, { token, body: { description: 'changed' } })
    const changed = await t.call('GET', `/store/products/${product.id}`, { headers: { 'if-none-match': etag! } })
    assert.equal(changed.status, 200)
    assert.notEqual(changed.headers.get('etag'), etag)
  })

  test('list pages by keyset with no duplicates or gaps, filtered by category and its subcategories', async () => {
    const made = []
    for (let i = 0; i < 5; i++) made.push((await create({ category: i % 2 ? 'paging/sub' : 'paging' })).id)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await t.call(
        'GET',
        `/store/products?category=paging&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      )
      assert.equal(res.status, 200)
      assert.ok(res.body.items.length <= 2)
      seen.push(...res.body.items.map((p) => p.id))
      cursor = res.body.nextCursor
    } while (cursor)
    assert.deepEqual(seen, made)
    const sub = await t.call('GET', '/store/products?category=paging/sub')
    assert.equal(sub.body.items.length, 2)
  })

  test('a list page reads its products through the cache: a hot page is one light query, and an update or a stock change shows at once', async () => {
    const made = []
    for (let i = 0; i < 3; i++) made.push(await create({ category: 'listed-hot' }))
    const page = () => t.call('GET', '/store/products?category=listed-hot')
    const first = await page()
    assert.equal(first.status, 200)
    assert.match(first.headers.get('content-type') ?? '', /^application\/json/)
    for (const [i, product] of made.entries()) {
      const detail = await t.call('GET', `/store/products/${product.id}`)
      assert.deepEqual(first.body.items[i], detail.body, 'an item is exactly the product as its own page shows it')
    }
    assert.equal(first.body.nextCursor, null)

    const before = queries.length
    assert.deepEqual((await page()).body, first.body)
    const hot = queries.slice(before)
    assert.equal(hot.length, 1, `a hot page makes one query: ${hot.join(' | ')}`)
    assert.doesNotMatch(hot[0], /catalog\.variants/, 'the ids only: bodies come from the cache')

    await t.call('PATCH', `/admin/products/${made[1].id}`, { token, body: { name: 'Renamed While Listed' } })
    assert.equal((await page()).body.items[1].name, 'Renamed While Listed')
    const variantId = made[2].variants[0].id
    const stock = await t.call('PUT', `/admin/inventory/${variantId}`, { token, body: { available: 0 } })
    assert.equal(stock.status, 200, JSON.stringify(stock.body))
    await t.drainEvents() // the worker turns inventory.availability_changed into an invalidation
    assert.equal((await page()).body.items[2].variants[0].inStock, false, 'a stock change invalidates the listed copy too')
  })

  test('a category listed as a leaf lists its new subcategory\'s products once it has one', async () => {
    const parent = await create({ category: 'growing' })
    const ids = async () => (await t.call('GET', '/store/products?category=growing')).body.items.map((p: { id: string }) => p.id)
    assert.deepEqual(await ids(), [parent.id])
    const child = await create({ category: 'growing/new-aisle' })
    assert.deepEqual(await ids(), [parent.id, child.id])
    assert.deepEqual((await t.call('GET', '/store/products?category=growing/new-aisle')).body.items.map((p: { id: string }) => p.id), [child.id])
  })

  test('a list page has an ETag and Cache-Control, answers 304 while unchanged, and a new ETag once a listed product changes', async () => {
    const made = [await create({ category: 'listed-etag' }), await create({ category: 'listed-etag' })]
    const path = '/store/products?category=listed-etag'
    const first = await t.call('GET', path)
    const etag = first.headers.get('etag')
    assert.match(etag ?? '', /^".+"$/)
    assert.match(first.headers.get('cache-control') ?? '', /public, max-age=\d+, stale-while-revalidate=\d+/)
    assert.equal((await t.call('GET', path, { headers: { 'if-none-match': etag! } })).status, 304)
    assert.notEqual((await t.call('GET', '/store/products?category=listed-etag&limit=1')).headers.get('etag'), etag, 'another page, another tag')

    await t.call('PATCH', `/admin/products/${made[1].id}`, { token, body: { description: 'changed while listed' } })
    const changed = await t.call('GET', path, { headers: { 'if-none-match': etag! } })
    assert.equal(changed.status, 200)
    assert.notEqual(changed.headers.get('etag'), etag)
    assert.equal(changed.body.items[1].description, 'changed while listed')
  })

  test('a cold list page loads its products in one query, not one per product', async () => {
    const made = []
    for (let i = 0; i < 6; i++) made.push(await create({ category: 'listed-cold' }))
    for (const product of made) await t.api.modules.catalog.invalidateProduct(product.id)
    const before = queries.length
    const page = await t.call('GET', '/store/products?category=listed-cold')
    assert.deepEqual(page.body.items.map((p: { id: string }) => p.id), made.map((p) => p.id))
    for (const [i, product] of made.entries()) assert.deepEqual(page.body.items[i], product, 'loaded together, each is the product as the store shows it')
    const productQueries = queries.slice(before).filter((q) => q.includes('catalog.products'))
    assert.equal(productQueries.length, 2, `the page's ids, then its products together: ${productQueries.join(' | ')}`)
  })

  test('a product deleted after its id was listed is left out, and the cursor still moves on', async () => {
    const made = []
    for (let i = 0; i < 3; i++) made.push((await create({ category: 'listed-gone' })).id)
    await t.call('GET', `/store/products?category=listed-gone&limit=2`) // caches them
    await t.call('DELETE', `/admin/products/${made[0]}`, { token })
    const page = await t.call('GET', '/store/products?category=listed-gone&limit=2')
    assert.deepEqual(page.body.items.map((p: { id: string }) => p.id), [made[1], made[2]])
    assert.equal(page.body.nextCursor, null)
  })

  test('names are trimmed and a name of zero-width characters is blank; made slugs spell out letters and never end in a hyphen', async () => {
    const spaced = await create({ name: '  Spaced Lamp  ', variants: [{ sku: `TRIM-${Date.now()}`, title: ' One ', price: { amount: 100, currency: 'USD' }, stock: 1 }] })
    assert.deepEqual([spaced.name, spaced.variants[0].title], ['Spaced Lamp', 'One'])
    for (const name of ['\u200b', ' \u200b\u2060 ']) {
      const blank = await t.call('POST', '/admin/products', { token, body: sampleProduct({ name }) })
      assert.deepEqual([blank.status, blank.body.errors?.[0]?.path], [400, 'name'], JSON.stringify(name))
    }
    assert.equal((await create({ name: 'نان\u200cها' })).name, 'نان\u200cها', 'a zero-width non-joiner within Persian text stays')
    assert.equal((await create({ name: 'Straße Øresund Łódź Æther' })).slug, 'strasse-oresund-lodz-aether')
    const long = `${'a'.repeat(79)} bcd`
    const slugs = [(await create({ name: long })).slug, (await create({ name: long })).slug]
    for (const slug of slugs) assert.match(slug, /^[a-z0-9]+(?:-[a-z0-9]+)*$/, slug)
    assert.notEqual(slugs[0], slugs[1])
  })

  test('validation errors name the field', async () => {
    const bad = await t.call('POST', '/admin/products', {
      token,
      body: sampleProduct({ category: 'Not A Path', variants: [{ sku: 'X1', title: 'One', price: { amount: 1.5, currency: 'USD' }, stock: 1 }] }),
    })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.code, 'validation_failed')
    const paths = bad.body.errors.map((e: { path: string }) => e.path)
    assert.ok(paths.includes('category'), paths.join())
    assert.ok(paths.includes('variants.0.price.amount'), paths.join())

    // Blank text (a brand of spaces became "" after trimming), script or file image URLs.
    const URL_MESSAGE = 'must be an http or https URL with a host (and no user or bad port in it)'
    const blank = await t.call('POST', '/admin/products', {
      token,
      body: sampleProduct({ name: '   ', brand: '  ', images: ['javascript:alert(1)', 'data:text/html;base64,PHNjcmlwdD4=', 'file:///etc/passwd'], variants: [{ sku: 'B1', title: ' ', price: { amount: 100, currency: 'USD' }, stock: 1 }] }),
    })
    assert.equal(blank.status, 400)
    const said = Object.fromEntries(blank.body.errors.map((e: { path: string; message: string }) => [e.path, e.message]))
    assert.deepEqual(
      [said.name, said.brand, said['variants.0.title'], said['images.0'], said['images.1'], said['images.2']],
      ['must not be blank or contain control characters', 'must not be blank or contain control characters', 'must not be blank or contain control characters', ...Array(3).fill(URL_MESSAGE)],
    )
    // Images that can never load: no host, a port out of range, a user in the URL.
    const unloadable = ['http://', 'https://x:99999/', 'http://a@b:c/', 'https://x:-1/']
    const noHost = await t.call('POST', '/admin/products', { token, body: sampleProduct({ images: unloadable }) })
    assert.equal(noHost.status, 400)
    assert.deepEqual(noHost.body.errors.map((e: { path: string }) => e.path), unloadable.map((_, i) => `images.${i}`))
    const fine = await t.call('POST', '/admin/products', { token, body: sampleProduct({ images: ['https://cdn.shop.test:8443/a.jpg', 'http://[2001:db8::1]/b.png', 'https://images.example/c.jpg?w=400#x'] }) })
    assert.equal(fine.status, 201, JSON.stringify(fine.body))

    const cursor = await t.call('GET', '/store/products?cursor=garbage')
    assert.equal(cursor.status, 400)
    assert.equal(cursor.body.errors[0].path, 'cursor')

    const limit = await t.call('GET', '/store/products?limit=101')
    assert.equal(limit.body.errors[0].path, 'limit')

    const malformed = await fetch(`${t.url}/admin/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{"name": ',
    })
    assert.equal(malformed.status, 400)
  })

  test('a duplicate SKU is a 409 naming the variant, and nothing is written', async () => {
    const product = await create()
    const sku = product.variants[0].sku
    const before = (await t.call('GET', '/store/products?limit=100')).body.items.length
    const res = await t.call('POST', '/admin/products', {
      token,
      body: sampleProduct({ name: 'Copy', variants: [{ sku, title: 'Dup', price: { amount: 100, currency: 'USD' }, stock: 1 }] }),
    })
    assert.equal(res.status, 409)
    assert.equal(res.body.errors[0].path, 'variants.0.sku')
    // Twice in one request: the repeat is named, not the first.
    const twice = await t.call('POST', '/admin/products', {
      token,
      body: sampleProduct({ name: 'Twice', variants: ['One', 'Two'].map((title) => ({ sku: 'TWICE-1', title, price: { amount: 100, currency: 'USD' }, stock: 1 })) }),
    })
    assert.equal(twice.status, 409)
    assert.deepEqual(twice.body.errors, [{ path: 'variants.1.sku', message: 'is given twice' }])
    assert.equal((await t.call('GET', '/store/products?limit=100')).body.items.length, before)
  })

  test('a SKU moved or swapped between variants of one product in one request is a 409 naming it, and nothing is written', async () => {
    const product = await create()
    const [a, b] = product.variants
    const moved = await t.call('PATCH', `/admin/products/${product.id}`, { token, body: { variants: [{ id: a.id, sku: b.sku }, { id: b.id, title: 'Medium' }] } })
    assert.equal(moved.status, 409, JSON.stringify(moved.body))
    assert.deepEqual(moved.body.errors, [{ path: 'variants.0.sku', message: 'is already in use' }])
    const swapped = await t.call('PATCH', `/admin/products/${product.id}`, { token, body: { variants: [{ id: a.id, sku: b.sku }, { id: b.id, sku: a.sku }] } })
    assert.equal(swapped.status, 409)
    assert.equal(swapped.body.errors[0].path, 'variants.0.sku')
    const twice = await t.call('PATCH', `/admin/products/${product.id}`, { token, body: { variants: [{ id: a.id, title: 'One' }, { id: a.id, title: 'Two' }] } })
    assert.equal(twice.status, 400)
    assert.deepEqual(twice.body.errors, [{ path: 'variants.1.id', message: 'is given twice' }])
    // Its own SKU again is no change, not a clash.
    const same = await t.call('PATCH', `/admin/products/${product.id}`, { token, body: { variants: [{ id: a.id, sku: a.sku, title: 'Small' }] } })
    assert.equal(same.status, 200, JSON.stringify(same.body))
    const after = (await t.call('GET', `/store/products/${product.id}`)).body
    assert.deepEqual(after.variants.map((v: { sku: string }) => v.sku), [a.sku, b.sku])
    assert.equal(after.variants[1].title, b.title, 'the refused requests wrote nothing')
  })

  test('concurrent creates: one generated slug each, and an explicit slug or a SKU raced for is a 409 for all but one', async () => {
    const named = await Promise.all(Array.from({ length: 6 }, () => t.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Race Name Boot' }) })))
    assert.deepEqual(named.map((r) => r.status), [201, 201, 201, 201, 201, 201], JSON.stringify(named.map((r) => r.body)))
    assert.equal(new Set(named.map((r) => r.body.slug)).size, 6)
    const slug = `race-slug-${Date.now()}`
    const explicit = await Promise.all(Array.from({ length: 6 }, () => t.call('POST', '/admin/products', { token, body: sampleProduct({ slug }) })))
    assert.deepEqual(explicit.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409], JSON.stringify(explicit.map((r) => r.body)))
    assert.ok(explicit.filter((r) => r.status === 409).every((r) => r.body.errors[0].path === 'slug'))
    const sku = `RACE-${Date.now()}`
    const variants = [{ sku, title: 'One', price: { amount: 100, currency: 'USD' }, stock: 1 }]
    const skus = await Promise.all(Array.from({ length: 6 }, (_, i) => t.call('POST', '/admin/products', { token, body: sampleProduct({ name: `Sku Race ${i}`, variants }) })))
    assert.deepEqual(skus.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409], JSON.stringify(skus.map((r) => r.body)))
    assert.ok(skus.filter((r) => r.status === 409).every((r) => r.body.errors[0].path === 'variants.0.sku'))
  })

  test('a price is in an ISO 4217 currency', async () => {
    const res = await t.call('POST', '/admin/products', {
      token,
      body: sampleProduct({ name: 'Odd Money', variants: [{ sku: `ODD-${Math.random().toString(36).slice(2, 8)}`, title: 'One', price: { amount: 100, currency: 'ABC' }, stock: 1 }] }),
    })
    assert.equal(res.status, 400)
    assert.deepEqual(res.body.errors, [{ path: 'variants.0.price.currency', message: 'is not an ISO 4217 currency code' }])
  })

  test('a product has one currency: mixing them is a 400 naming the variant, and nothing is written', async () => {
    const before = (await t.call('GET', '/store/products?limit=100')).body.items.length
    const variant = (sku: string, currency: string) => ({ sku: `${sku}-${Math.random().toString(36).slice(2, 8)}`, title: sku, price: { amount: 1000, currency }, stock: 1 })
    const mixed = await t.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Mixed', variants: [variant('A', 'USD'), variant('B', 'USD'), variant('C', 'EUR')] }) })
    assert.equal(mixed.status, 400)
    assert.equal(mixed.body.errors[0].path, 'variants.2.price.currency')
    assert.equal((await t.call('GET', '/store/products?limit=100')).body.items.length, before, 'no product was created')

    const product = await create()
    const added = await t.call('PATCH', `/admin/products/${product.id}`, { token, body: { variants: [variant('D', 'EUR')] } })
    assert.equal(added.status, 400)
    assert.equal(added.body.errors[0].path, 'variants.0.price.currency')
    const repriced = await t.call('PATCH', `/admin/products/${product.id}`, { token, body: { variants: [{ id: product.variants[0].id, price: { amount: 900, currency: 'EUR' } }] } })
    assert.equal(repriced.status, 400, 'one variant of two moved to another currency')
    const unchanged = (await t.call('GET', `/store/products/${product.id}`)).body
    assert.deepEqual(unchanged.variants.map((v: { price: unknown }) => v.price), product.variants.map((v: { price: unknown }) => v.price))

    // Moving every variant to another currency together is fine.
    const moved = await t.call('PATCH', `/admin/products/${product.id}`, {
      token,
      body: { variants: product.variants.map((v: { id: string }) => ({ id: v.id, price: { amount: 900, currency: 'EUR' } })) },
    })
    assert.equal(moved.status, 200, JSON.stringify(moved.body))
    const after = (await t.call('GET', `/store/products/${product.id}`)).body
    assert.deepEqual([...new Set(after.variants.map((v: { price: { currency: string } }) => v.price.currency))], ['EUR'])
  })

  test('admin routes answer 401 without a session and 403 for a non-admin', async () => {
    const anonymous = await t.call('POST', '/admin/products', { body: sampleProduct() })
    assert.equal(anonymous.status, 401)
    assert.equal(anonymous.body.code, 'unauthorized')
    assert.equal((await t.call('PATCH', '/admin/products/1', { body: { name: 'x' }, token: 'forged-token' })).status, 401)

    const registered = await t.call('POST', '/store/auth/register', {
      body: { email: 'shopper@shop.test', password: 'shopper-password-1', name: 'Shopper', country: 'US' },
    })
    assert.equal(registered.status, 201)
    const shopperToken = registered.body.token as string
    const forbidden = await t.call('POST', '/admin/products', { body: sampleProduct(), token: shopperToken })
    assert.equal(forbidden.status, 403)
    assert.equal(forbidden.body.code, 'forbidden')
  })

  test('product.updated lands in the outbox in the same transaction as the change', async () => {
    const product = await create()
    await t.call('PATCH', `/admin/products/${product.id}`, { token, body: { brand: 'Southpeak' } })
    const events = await t.platform.sql<{ type: string; payload: { productId: string; change: string } }[]>`
      select type, payload from platform.outbox where payload->>'productId' = ${product.id} order by id`
    assert.deepEqual(events.map((e) => e.payload.change), ['created', 'updated'])
    assert.ok(events.every((e) => e.type === 'product.updated'))
  })
})
