import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { startTestApp, type TestApp } from '../../../test/support/app.ts'

const DAY_MS = 24 * 3600_000
const THIRTY_DAYS_MS = 30 * DAY_MS

describe('carts over HTTP', () => {
  let t: TestApp
  let admin: string

  before(async () => {
    t = await startTestApp()
    admin = await t.adminToken()
  })
  after(() => t.close())

  /** A product whose variants have these prices (minor units) and stock; answers the variant ids. */
  const variants = async (...specs: { price: number; stock: number }[]) => {
    const res = await t.call('POST', '/admin/products', {
      token: admin,
      body: {
        name: `Cart Test Product ${randomBytes(3).toString('hex')}`,
        brand: 'Testbrand',
        category: 'cart-tests',
        variants: specs.map((s, i) => ({
          sku: `CART-${randomBytes(5).toString('hex')}-${i}`,
          title: `Size ${i}`,
          price: { amount: s.price, currency: 'USD' },
          stock: s.stock,
        })),
      },
    })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return { productId: res.body.id as string, name: res.body.name as string, ids: res.body.variants.map((v: { id: string }) => v.id) as string[] }
  }
  const newCart = async (): Promise<string> => {
    const res = await t.call('POST', '/store/carts')
    assert.equal(res.status, 201)
    return res.body.id
  }
  const add = (cartId: string, variantId: string, quantity: number, token?: string) =>
    t.call('POST', `/store/carts/${cartId}/items`, { body: { variantId, quantity }, token })
  const setQty = (cartId: string, variantId: string, quantity: number, token?: string) =>
    t.call('PATCH', `/store/carts/${cartId}/items/${variantId}`, { body: { quantity }, token })
  const read = async (cartId: string, token?: string) => (await t.call('GET', `/store/carts/${cartId}`, { token })).body
  const quantities = async (cartId: string, token?: string) =>
    Object.fromEntries((await read(cartId, token)).items.map((i: { variantId: string; quantity: number }) => [i.variantId, i.quantity]))
  const registerCustomer = async () => {
    const res = await t.call('POST', '/store/auth/register', {
      body: { email: `c-${randomBytes(4).toString('hex')}@shop.test`, password: 'correct horse battery', name: 'Cart Tester', country: 'US' },
    })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return res.body.token as string
  }

  test('two adds racing into an empty cart in two currencies never leave it holding both', async () => {
    const product = async (currency: string) => {
      const res = await t.call('POST', '/admin/products', {
        token: admin,
        body: { name: `Currency ${currency} ${randomBytes(3).toString('hex')}`, brand: 'Testbrand', category: 'cart-tests', variants: [{ sku: `CUR-${randomBytes(5).toString('hex')}`, title: 'One', price: { amount: 1000, currency }, stock: 100 }] },
      })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      return res.body.variants[0].id as string
    }
    const [usd, eur] = [await product('USD'), await product('EUR')]
    for (let i = 0; i < 10; i++) {
      const cartId = await newCart()
      const answers = await Promise.all([add(cartId, usd, 1), add(cartId, eur, 1)])
      assert.ok(answers.every((res) => res.status < 300 || (res.status === 409 && res.body.errors?.[0]?.path === 'variantId')), JSON.stringify(answers.map((r) => r.body)))
      const cart = await read(cartId)
      const currencies = new Set(cart.items.map((item: { unitPrice: { currency: string } }) => item.unitPrice.currency))
      assert.ok(currencies.size <= 1, `one currency: ${JSON.stringify(cart.items)}`)
      assert.equal(cart.items.length, answers.filter((res) => res.status < 300).length, 'what was answered added is there, nothing else')
      if (cart.items.length > 0) assert.equal(cart.subtotal.currency, cart.items[0].unitPrice.currency)
    }
  })

  test('a new cart is empty, has an unguessable id and reads back by that id', async () => {
    const res = await t.call('POST', '/store/carts')
    assert.equal(res.status, 201)
    assert.match(res.body.id, /^[A-Za-z0-9_-]{22}$/, '128 random bits in base64url')
    assert.deepEqual(res.body, { id: res.body.id, items: [], subtotal: { amount: 0, currency: 'USD' } })
    assert.deepEqual(await read(res.body.id), res.body)
    assert.notEqual(await newCart(), res.body.id)
  })

  test('adding sums quantities per line; lines carry product, name and price; the subtotal adds up', async () => {
    const p = await variants({ price: 12999, stock: 50 }, { price: 500, stock: 50 })
    const cart = await newCart()
    assert.equal((await add(cart, p.ids[0], 2)).status, 200)
    await add(cart, p.ids[1], 1)
    const res = await add(cart, p.ids[0], 3)
    assert.equal(res.status, 200)
    assert.deepEqual(res.body, {
      id: cart,
      items: [
        { variantId: p.ids[0], productId: p.productId, name: p.name, title: 'Size 0', unitPrice: { amount: 12999, currency: 'USD' }, quantity: 5, lineTotal: { amount: 64995, currency: 'USD' } },
        { variantId: p.ids[1], productId: p.productId, name: p.name, title: 'Size 1', unitPrice: { amount: 500, currency: 'USD' }, quantity: 1, lineTotal: { amount: 500, currency: 'USD' } },
      ],
      subtotal: { amount: 65495, currency: 'USD' },
    })
    assert.deepEqual(await read(cart), res.body)
  })

  test('a line shows the price it was added at (checkout re-prices)', async () => {
    const p = await variants({ price: 1000, stock: 10 })
    const cart = await newCart()
    await add(cart, p.ids[0], 1)
    await t.call('PATCH', `/admin/products/${p.productId}`, { token: admin, body: { variants: [{ id: p.ids[0], price: { amount: 1500, currency: 'USD' } }] } })
    assert.equal((await read(cart)).items[0].unitPrice.amount, 1000)
  })

  test('set changes a line, 0 removes it, delete removes it; a line the cart lacks is 404', async () => {
    const p = await variants({ price: 100, stock: 50 }, { price: 200, stock: 50 })
    const cart = await newCart()
    await add(cart, p.ids[0], 1)
    await add(cart, p.ids[1], 1)
    const set = await setQty(cart, p.ids[0], 7)
    assert.equal(set.status, 200)
    assert.deepEqual(await quantities(cart), { [p.ids[0]]: 7, [p.ids[1]]: 1 })
    assert.equal(set.body.subtotal.amount, 900)
    assert.equal((await setQty(cart, p.ids[0], 0)).status, 200)
    assert.deepEqual(await quantities(cart), { [p.ids[1]]: 1 })
    const removed = await t.call('DELETE', `/store/carts/${cart}/items/${p.ids[1]}`)
    assert.equal(removed.status, 200)
    assert.deepEqual(removed.body.items, [])
    assert.equal((await t.call('DELETE', `/store/carts/${cart}/items/${p.ids[1]}`)).status, 200, 'removing again is harmless')
    const missing = await setQty(cart, p.ids[0], 3)
    assert.equal(missing.status, 404)
    assert.equal(missing.body.code, 'not_found')
    assert.deepEqual(await quantities(cart), {})
  })

  test('stock is checked softly on add and on set: 409 out_of_stock, cart unchanged', async () => {
    const p = await variants({ price: 100, stock: 5 }, { price: 100, stock: 0 })
    const cart = await newCart()
    const tooMany = await add(cart, p.ids[0], 6)
    assert.equal(tooMany.status, 409)
    assert.equal(tooMany.body.code, 'out_of_stock')
    assert.equal(tooMany.body.available, 5)
    assert.equal(tooMany.body.errors[0].path, 'quantity')
    assert.equal((await add(cart, p.ids[0], 4)).status, 200)
    assert.equal((await add(cart, p.ids[0], 2)).body.code, 'out_of_stock', 'the line total counts, not the amount added')
    assert.equal((await setQty(cart, p.ids[0], 6)).body.code, 'out_of_stock')
    assert.equal((await setQty(cart, p.ids[0], 5)).status, 200)
    assert.equal((await add(cart, p.ids[1], 1)).body.code, 'out_of_stock')
    assert.deepEqual(await quantities(cart), { [p.ids[0]]: 5 })
  })

  test('a line above the stock left (it fell after the add) may come down towards it, not go up', async () => {
    const p = await variants({ price: 100, stock: 10 })
    const cart = await newCart()
    assert.equal((await add(cart, p.ids[0], 8)).status, 200)
    assert.equal((await t.call('PUT', `/admin/inventory/${p.ids[0]}`, { token: admin, body: { available: 2 } })).status, 200)
    const lowered = await setQty(cart, p.ids[0], 3)
    assert.equal(lowered.status, 200, JSON.stringify(lowered.body))
    const raised = await setQty(cart, p.ids[0], 4)
    assert.equal(raised.status, 409)
    assert.equal(raised.body.code, 'out_of_stock')
    assert.equal(raised.body.available, 2)
    assert.deepEqual(await quantities(cart), { [p.ids[0]]: 3 })
  })

  test('a line of a product taken off sale may go down or away, not up', async () => {
    const p = await variants({ price: 100, stock: 10 })
    const cart = await newCart()
    assert.equal((await add(cart, p.ids[0], 3)).status, 200)
    assert.equal((await t.call('DELETE', `/admin/products/${p.productId}`, { token: admin })).status < 300, true)
    const raised = await setQty(cart, p.ids[0], 5)
    assert.equal(raised.status, 409)
    assert.equal(raised.body.code, 'out_of_stock')
    assert.equal(raised.body.available, 0)
    assert.equal((await add(cart, p.ids[0], 1)).status, 400)
    assert.deepEqual(await quantities(cart), { [p.ids[0]]: 3 })
    assert.equal((await setQty(cart, p.ids[0], 1)).status, 200)
    assert.deepEqual(await quantities(cart), { [p.ids[0]]: 1 })
  })

  test('adds racing product writes in the same process never fail (a write drops the variant lookups in flight)', async () => {
    const items = await variants(...Array.from({ length: 5 }, () => ({ price: 100, stock: 100_000 })))
    const other = await variants({ price: 100, stock: 1 })
    const carts = await Promise.all(Array.from({ length: 20 }, () => newCart()))
    let writing = true
    const statuses: number[] = []
    const shoppers = carts.map(async (cart, i) => {
      for (let n = 0; writing; n++) statuses.push((await add(cart, items.ids[(i + n) % items.ids.length], 1)).status)
    })
    for (let i = 0; i < 15; i++) {
      assert.equal((await t.call('PATCH', `/admin/products/${other.productId}`, { token: admin, body: { description: `edit ${i}` } })).status, 200)
    }
    writing = false
    await Promise.all(shoppers)
    assert.ok(statuses.length > 20)
    assert.deepEqual([...new Set(statuses)], [200], `answers: ${JSON.stringify(statuses.filter((s) => s !== 200))}`)
  })

  test('a line holds 1 to 99: a sum over 99 is refused naming quantity, and nothing changes', async () => {
    const p = await variants({ price: 100, stock: 1000 })
    const cart = await newCart()
    await add(cart, p.ids[0], 60)
    const over = await add(cart, p.ids[0], 40)
    assert.equal(over.status, 409)
    assert.equal(over.body.errors[0].path, 'quantity')
    assert.deepEqual(await quantities(cart), { [p.ids[0]]: 60 })
    assert.equal((await add(cart, p.ids[0], 39)).status, 200)
    for (const quantity of [0, 100, -1]) {
      const res = await add(cart, p.ids[0], quantity)
      assert.equal(res.status, 400, `quantity ${quantity}`)
      assert.equal(res.body.errors[0].path, 'quantity')
    }
    assert.equal((await setQty(cart, p.ids[0], 100)).body.errors[0].path, 'quantity')
    assert.deepEqual(await quantities(cart), { [p.ids[0]]: 99 })
  })

  test('a cart holds at most 100 lines', async () => {
    const big = await variants(...Array.from({ length: 100 }, () => ({ price: 10, stock: 10 })))
    const extra = await variants({ price: 10, stock: 10 })
    const cart = await newCart()
    for (const id of big.ids) assert.equal((await add(cart, id, 1)).status, 200)
    const full = await add(cart, extra.ids[0], 1)
    assert.equal(full.status, 409)
    assert.equal(full.body.errors[0].path, 'variantId')
    assert.equal((await add(cart, big.ids[0], 1)).status, 200, 'an existing line can still grow')
    assert.equal((await read(cart)).items.length, 100)
  })

  test('bad input answers 400 problem+json naming the field and changes nothing', async () => {
    const p = await variants({ price: 100, stock: 10 })
    const cart = await newCart()
    const cases: [unknown, string][] = [
      [{ quantity: 1 }, 'variantId'],
      [{ variantId: p.ids[0] }, 'quantity'],
      [{ variantId: p.ids[0], quantity: 1.5 }, 'quantity'],
      [{ variantId: p.ids[0], quantity: 'many' }, 'quantity'],
      [{ variantId: 'not a variant!', quantity: 1 }, 'variantId'],
      [{ variantId: '999999999', quantity: 1 }, 'variantId'],
      // Not the id the catalog gave out, though it reads as one: its line would match no stock or price.
      [{ variantId: `000${p.ids[0]}`, quantity: 1 }, 'variantId'],
      [{ variantId: p.ids[0], quantity: 1, price: 1 }, 'price'],
    ]
    for (const [body, path] of cases) {
      const res = await t.call('POST', `/store/carts/${cart}/items`, { body })
      assert.equal(res.status, 400, JSON.stringify(body))
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
      assert.equal(res.body.code, 'validation_failed')
      assert.ok(res.body.errors.some((e: { path: string }) => e.path === path), `${JSON.stringify(body)}: ${JSON.stringify(res.body.errors)}`)
    }
    const malformed = await fetch(`${t.url}/store/carts/${cart}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"variantId": ' })
    assert.equal(malformed.status, 400)
    assert.equal((await setQty(cart, p.ids[0], -1)).status, 400)
    assert.deepEqual((await read(cart)).items, [])
  })

  test('an unknown or malformed cart id is 404 on every call', async () => {
    const p = await variants({ price: 100, stock: 10 })
    for (const id of [randomBytes(16).toString('base64url'), 'nope', 'a'.repeat(99)]) {
      assert.equal((await t.call('GET', `/store/carts/${id}`)).status, 404)
      assert.equal((await add(id, p.ids[0], 1)).status, 404)
      assert.equal((await setQty(id, p.ids[0], 1)).status, 404)
      const res = await t.call('DELETE', `/store/carts/${id}/items/${p.ids[0]}`)
      assert.equal(res.status, 404)
      assert.equal(res.body.code, 'not_found')
    }
  })

  test('50 parallel adds of 1 to one line give 50', async () => {
    const p = await variants({ price: 100, stock: 80 })
    const cart = await newCart()
    const answers = await Promise.all(Array.from({ length: 50 }, () => add(cart, p.ids[0], 1)))
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200])
    assert.deepEqual(await quantities(cart), { [p.ids[0]]: 50 })
  })

  test('parallel adds never exceed the stock or 99', async () => {
    const p = await variants({ price: 100, stock: 20 })
    const cart = await newCart()
    const answers = await Promise.all(Array.from({ length: 30 }, () => add(cart, p.ids[0], 1)))
    assert.equal(answers.filter((a) => a.status === 200).length, 20)
    assert.equal(answers.filter((a) => a.body.code === 'out_of_stock').length, 10)
    assert.deepEqual(await quantities(cart), { [p.ids[0]]: 20 })
  })

  test('a guest cart lives a day until its first line, then 30 days, and every write renews it', async () => {
    const p = await variants({ price: 100, stock: 10 }, { price: 100, stock: 10 })
    const cart = await newCart()
    const { kv } = t.platform
    const keys = ['meta', 'lines', 'items'].map((part) => `cart:{${cart}}:${part}`)
    const near30Days = async (key: string) => {
      const ttl = await kv.ttl(key)
      assert.ok(ttl > THIRTY_DAYS_MS - 60_000 && ttl <= THIRTY_DAYS_MS, `${key}: ttl ${ttl}`)
    }
    const emptyTtl = await kv.ttl(keys[0])
    assert.ok(emptyTtl > DAY_MS - 60_000 && emptyTtl <= DAY_MS, `an empty guest cart: ttl ${emptyTtl}`)
    // Removing or zeroing a line it does not hold is no first line.
    assert.equal((await t.call('DELETE', `/store/carts/${cart}/items/${p.ids[0]}`)).status, 200)
    assert.equal((await setQty(cart, p.ids[0], 0)).status, 200)
    assert.ok((await kv.ttl(keys[0])) <= DAY_MS, 'still a day')
    await add(cart, p.ids[0], 1)
    for (const key of keys) await near30Days(key)

    const writes = [
      () => add(cart, p.ids[1], 1),
      () => setQty(cart, p.ids[0], 2),
      () => t.call('DELETE', `/store/carts/${cart}/items/${p.ids[1]}`),
    ]
    for (const write of writes) {
      for (const key of keys) await kv.expire(key, 60_000)
      assert.equal((await write()).status, 200)
      for (const key of keys) await near30Days(key)
    }
    // A read is not a write: it leaves the life as it was.
    await kv.expire(keys[0], 60_000)
    await read(cart)
    assert.ok((await kv.ttl(keys[0])) <= 60_000)
  })

  test('the account cart: created once, used through /store/carts/{id} by its owner only', async () => {
    const owner = await registerCustomer()
    const other = await registerCustomer()
    const p = await variants({ price: 250, stock: 10 })

    const first = await t.call('GET', '/store/customers/me/cart', { token: owner })
    assert.equal(first.status, 200)
    assert.deepEqual(first.body.items, [])
    const cartId = first.body.id
    assert.equal((await t.call('GET', '/store/customers/me/cart', { token: owner })).body.id, cartId, 'the same cart again')

    assert.equal((await add(cartId, p.ids[0], 2, owner)).status, 200)
    assert.deepEqual((await t.call('GET', '/store/customers/me/cart', { token: owner })).body.items.map((i: { quantity: number }) => i.quantity), [2])

    for (const call of [
      () => t.call('GET', `/store/carts/${cartId}`, { token: other }),
      () => add(cartId, p.ids[0], 1, other),
      () => setQty(cartId, p.ids[0], 1, other),
      () => t.call('DELETE', `/store/carts/${cartId}/items/${p.ids[0]}`, { token: other }),
    ]) {
      const res = await call()
      assert.equal(res.status, 403)
      assert.equal(res.body.code, 'forbidden')
    }
    assert.equal((await t.call('GET', `/store/carts/${cartId}`)).status, 401, 'no session')
    assert.equal((await add(cartId, p.ids[0], 1)).status, 401)
    assert.deepEqual(await quantities(cartId, owner), { [p.ids[0]]: 2 }, 'nothing changed')
    assert.notEqual((await t.call('GET', '/store/customers/me/cart', { token: other })).body.id, cartId)
  })

  test('GET /store/customers/me/cart needs a session', async () => {
    const res = await t.call('GET', '/store/customers/me/cart')
    assert.equal(res.status, 401)
    assert.equal(res.body.code, 'unauthorized')
  })

  test('concurrent first visits to the account cart agree on one cart', async () => {
    const token = await registerCustomer()
    const answers = await Promise.all(Array.from({ length: 10 }, () => t.call('GET', '/store/customers/me/cart', { token })))
    assert.equal(new Set(answers.map((a) => a.body.id)).size, 1)
  })

  test('concurrent visits after the account cart expired (its pointer outliving it) agree on one new cart', async () => {
    const token = await registerCustomer()
    const old = (await t.call('GET', '/store/customers/me/cart', { token })).body.id
    await t.platform.kv.del(`cart:{${old}}:meta`)
    const answers = await Promise.all(Array.from({ length: 10 }, () => t.call('GET', '/store/customers/me/cart', { token })))
    const ids = new Set(answers.map((a) => a.body.id))
    assert.equal(ids.size, 1, `one cart: ${[...ids]}`)
    assert.notEqual([...ids][0], old)
  })

  test('a guest cart id is a capability: anyone holding it, signed in or not, may use it', async () => {
    const p = await variants({ price: 100, stock: 10 })
    const cart = await newCart()
    const someone = await registerCustomer()
    assert.equal((await add(cart, p.ids[0], 1, someone)).status, 200)
    assert.equal((await add(cart, p.ids[0], 1)).status, 200)
    assert.deepEqual(await quantities(cart), { [p.ids[0]]: 2 })
  })
})

test('guest carts are limited per address (CARTS_PER_IP_PER_MINUTE): 429 with Retry-After past it, other addresses go on; the account cart is not counted', async () => {
  const t = await startTestApp({ env: { CARTS_PER_IP_PER_MINUTE: '3', TRUST_PROXY: 'loopback' } })
  try {
    const create = (ip: string) => t.call('POST', '/store/carts', { headers: { 'x-forwarded-for': ip } })
    const first = await Promise.all(Array.from({ length: 5 }, () => create('203.0.113.7')))
    assert.deepEqual(first.map((res) => res.status).sort(), [201, 201, 201, 429, 429], 'exactly the limit, also when racing')
    const refused = first.find((res) => res.status === 429)!
    assert.equal(refused.body.code, 'too_many_requests')
    const retryAfter = Number(refused.headers.get('retry-after'))
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`)
    assert.equal((await create('203.0.113.8')).status, 201, 'another address has its own allowance')
    // An IPv6 client holds its whole /64: its addresses share one allowance.
    const v6 = await Promise.all(['2001:db8:7:7::1', '2001:db8:7:7::2', '2001:db8:7:7:a::3', '2001:db8:7:7:b::4'].map(create))
    assert.deepEqual(v6.map((res) => res.status).sort(), [201, 201, 201, 429])
    const registered = await t.call('POST', '/store/auth/register', { body: { email: `limit-${randomBytes(4).toString('hex')}@shop.test`, password: 'correct horse battery', name: 'Limit', country: 'US' }, headers: { 'x-forwarded-for': '203.0.113.7' } })
    assert.equal(registered.status, 201)
    const account = await t.call('GET', '/store/customers/me/cart', { token: registered.body.token, headers: { 'x-forwarded-for': '203.0.113.7' } })
    assert.equal(account.status, 200, 'the account cart is no guest cart')
  } finally {
    await t.close()
  }
})

test('guest carts are limited per address per day too (CARTS_PER_IP_PER_DAY): a cart with a line lives 30 days', async () => {
  const t = await startTestApp({ env: { CARTS_PER_IP_PER_MINUTE: '100', CARTS_PER_IP_PER_DAY: '3', TRUST_PROXY: 'loopback' } })
  try {
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await t.call('POST', '/store/carts', { headers: { 'x-forwarded-for': '203.0.113.9' } })).status)
    assert.deepEqual(statuses, [201, 201, 201, 429])
    const refused = await t.call('POST', '/store/carts', { headers: { 'x-forwarded-for': '203.0.113.9' } })
    assert.ok(Number(refused.headers.get('retry-after')) > 3600, 'come back when the day is over')
  } finally {
    await t.close()
  }
})
