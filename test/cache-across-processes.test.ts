// An update through one API process is visible at once through another: the second
// process is a real child process with its own in-process LRU, sharing Redis and PostgreSQL.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sampleProduct, startTestApp, type TestApp } from './support/app.ts'
import { spawnShop, type ShopProcess } from './support/processes.ts'

const redisUrl = process.env.REDIS_URL
const embedded = !process.env.DATABASE_URL || !redisUrl

test('an update is visible at once through a second API process', { skip: embedded && 'needs DATABASE_URL and REDIS_URL: the embedded default runs one process' }, async (t) => {
  let a: TestApp | undefined
  let b: ShopProcess | undefined
  t.after(async () => {
    await b?.stop()
    await a?.close()
  })
  a = await startTestApp()
  // A long LRU life in the second process: only the invalidation message can refresh it.
  b = await spawnShop('api', {
    DATABASE_URL: a.databaseUrl,
    REDIS_URL: redisUrl!,
    INSTANCE: a.instance,
    LOG_LEVEL: 'warn',
    CACHE_LRU_TTL_MS: '600000',
    // The api role makes the configured admin too (a deployment may never run `start`).
    ADMIN_EMAIL: 'second-admin@shop.test',
    ADMIN_PASSWORD: 'second-admin-password',
  })
  const login = await fetch(`${b.url}/store/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'second-admin@shop.test', password: 'second-admin-password' }),
  })
  assert.equal(login.status, 200)
  assert.equal(((await login.json()) as { customer: { role: string } }).customer.role, 'admin')
  const token = await a.adminToken()
  const created = await a.call('POST', '/admin/products', { token, body: sampleProduct() })
  const id = created.body.id
  /** A new guest cart through process B, with one unit of the variant added: the add's answer. */
  const addThroughB = async (variantId: string) => {
    const cart = (await (await fetch(`${b!.url}/store/carts`, { method: 'POST' })).json()) as { id: string }
    const res = await fetch(`${b!.url}/store/carts/${cart.id}/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ variantId, quantity: 1 }),
    })
    return { status: res.status, body: (await res.json()) as { items: { unitPrice: { amount: number } }[] } }
  }
  const readB = async () => (await (await fetch(`${b!.url}/store/products/${id}`)).json()) as { name: string; variants: { price: { amount: number } }[] }

  assert.equal((await readB()).name, sampleProduct().name)
  const cachedInB = await fetch(`${b.url}/store/products/${id}`)
  assert.equal(cachedInB.headers.get('x-cache'), 'lru', 'process B serves from its own LRU')

  for (let round = 1; round <= 5; round++) {
    const name = `Renamed round ${round}`
    const amount = 1000 + round
    const res: { status: number } = await a.call('PATCH', `/admin/products/${id}`, {
      token,
      body: { name, variants: [{ id: created.body.variants[0].id, price: { amount, currency: 'USD' } }] },
    })
    assert.equal(res.status, 200)
    const seen = await readB()
    assert.equal(seen.name, name)
    assert.equal(seen.variants[0].price.amount, amount)
    // A cart add through B takes the new price too (its variant lookups drop with the product).
    const added = await addThroughB(created.body.variants[0].id)
    assert.equal(added.status, 200)
    assert.equal(added.body.items[0].unitPrice.amount, amount, `round ${round}: the cart line's price`)
  }
  // Deleted through A: an add through B is refused at once, as the product page is a 404.
  assert.equal((await a.call('DELETE', `/admin/products/${id}`, { token })).status, 204)
  assert.equal((await fetch(`${b.url}/store/products/${id}`)).status, 404)
  assert.equal((await addThroughB(created.body.variants[0].id)).status, 400, 'not for sale')
})

