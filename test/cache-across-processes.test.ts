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
  }
})
