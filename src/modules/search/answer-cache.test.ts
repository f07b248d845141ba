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
    await new Promise((resolve) => setTimeout(resolve, 100)) // the index-change notice reaches the API
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
    // The index change makes the cached answer stale: it may be served once more while it is
    // refreshed behind it.
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

test('an index change makes every cached answer stale at once, in every API process: served at most once more while refreshed', async () => {
  const t = await startTestApp({ env: { SEARCH_CACHE_TTL_MS: '30000' } })
  try {
    const token = await t.adminToken()
    const created = await t.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Fjord Lantern' }) })
    await t.drainEvents()
    assert.equal((await t.call('GET', '/store/search?q=lantern')).body.total, 1)
    assert.equal((await t.call('GET', '/store/search/suggest?q=fjord')).body.items.length, 1)

    await t.call('DELETE', `/admin/products/${created.body.id}`, { token })
    await t.drainEvents() // the worker's index change tells the API processes
    const started = Date.now()
    let total = 1
    let served = 0
    while (total !== 0 && Date.now() - started < 5000) {
      total = (await t.call('GET', '/store/search?q=lantern')).body.total
      served++
      if (total !== 0) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal(total, 0, `the deleted product left the cached answer well within its 30 s (${Date.now() - started} ms, ${served} searches)`)
    let items = 1
    for (let i = 0; i < 50 && items !== 0; i++) {
      items = (await t.call('GET', '/store/search/suggest?q=fjord')).body.items.length
      if (items !== 0) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal(items, 0, 'suggestions too')
  } finally {
    await t.close()
  }
})
