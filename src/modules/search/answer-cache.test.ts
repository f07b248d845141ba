import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sampleProduct, startTestApp } from '../../../test/support/app.ts'

test('a repeated search is answered from cache; an answer is at most twice the TTL old', async () => {
  const queries: string[] = []
  const t = await startTestApp({ env: { SEARCH_CACHE_TTL_MS: '2000' }, onQuery: (text) => queries.push(text) })
  try {
    const token = await t.adminToken()
    const created = await t.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Glacier Thermos' }) })
    await t.drainEvents()
    const searchQueries = () => queries.filter((q) => q.includes('search.documents')).length

    const first = await t.call('GET', '/store/search?q=thermos')
    assert.equal(first.body.total, 1)
    const before = searchQueries()
    const again = await Promise.all(Array.from({ length: 10 }, () => t.call('GET', '/store/search?q=thermos')))
    assert.ok(again.every((res) => res.status === 200 && res.body.total === 1))
    assert.equal(searchQueries(), before, 'answered without PostgreSQL')
    assert.equal((await t.call('GET', '/store/search?q=thermos&limit=5')).body.total, 1, 'another request is another answer')
    assert.ok(searchQueries() > before)

    await t.call('DELETE', `/admin/products/${created.body.id}`, { token })
    await t.drainEvents()
    assert.equal((await t.call('GET', '/store/search?q=thermos')).body.total, 1, 'a cached answer may be up to the TTL old')
    // Past the TTL the old answer may be served once more while it is refreshed behind it.
    const deadline = Date.now() + 2 * 2000 + 1000
    let total = 1
    while (total !== 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      total = (await t.call('GET', '/store/search?q=thermos')).body.total
    }
    assert.equal(total, 0, 'the refreshed answer')

    // Bad input is refused before the cache, every time.
    for (let i = 0; i < 2; i++) assert.equal((await t.call('GET', '/store/search?limit=500')).status, 400)
  } finally {
    await t.close()
  }
})
