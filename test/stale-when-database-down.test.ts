// While PostgreSQL cannot be reached, product reads fall back to the last known copy.
// The database is taken away through a TCP proxy, a real network fault for this app only.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sampleProduct, startTestApp } from './support/app.ts'
import { createDatabase } from './support/db.ts'
import { proxyFor } from './support/tcp-proxy.ts'

test('a stale copy is served while the database is down, and fresh reads resume after', async (t) => {
  const database = await createDatabase()
  const { proxy, url: proxiedUrl } = await proxyFor(database.url, 5432)
  const app = await startTestApp({
    databaseUrl: proxiedUrl,
    env: { CACHE_LRU_TTL_MS: '50', DB_QUERY_TIMEOUT_MS: '1500' },
  })
  t.after(async () => {
    await app.close()
    await proxy.close()
    await database.drop()
  })

  const token = await app.adminToken()
  const product = (await app.call('POST', '/admin/products', { token, body: sampleProduct() })).body
  const fresh = await app.call('GET', `/store/products/${product.id}`)
  assert.equal(fresh.status, 200)
  const neverRead = (await app.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Never read' }) })).body

  // The fresh copies go (LRU freshness runs out, the KV copy is evicted); then the database goes.
  await new Promise((r) => setTimeout(r, 100))
  await app.platform.kv.del(`product:${product.id}`)
  await proxy.cut()

  const stale = await app.call('GET', `/store/products/${product.id}`)
  assert.equal(stale.status, 200)
  assert.equal(stale.headers.get('x-cache'), 'stale')
  assert.deepEqual(stale.body, fresh.body)

  const unknown = await app.call('GET', `/store/products/${neverRead.id}`)
  assert.equal(unknown.status, 503, 'nothing to fall back on: a clear 503, not a 500')
  assert.equal(unknown.body.code, 'unavailable')
  assert.ok(unknown.headers.get('retry-after'))

  const ready = await app.call('GET', '/health/ready')
  assert.equal(ready.status, 503)
  assert.match(ready.body.checks.postgres, /^down/)

  await proxy.restore()
  let back = await app.call('GET', `/store/products/${neverRead.id}`)
  for (let i = 0; i < 20 && back.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 250))
    back = await app.call('GET', `/store/products/${neverRead.id}`)
  }
  assert.equal(back.status, 200)
  assert.equal(back.body.name, 'Never read')
})
