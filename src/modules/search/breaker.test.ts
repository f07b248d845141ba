// The search circuit breaker against real faults: the search table disappearing, and a
// lock that makes every search wait past its timeout. PostgreSQL is never mocked.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { sampleProduct, startTestApp, type TestApp } from '../../../test/support/app.ts'
import { realServers } from '../../../test/support/db.ts'
import { connectDb, type Sql } from '../../platform/db/index.ts'
import { Breaker } from './breaker.ts'

const VOLUME_THRESHOLD = 5

async function appWithProduct(env: Record<string, string>, onQuery?: (text: string) => void) {
  const t = await startTestApp({ env: { SEARCH_CACHE_TTL_MS: '0', ...env }, onQuery })
  const res = await t.call('POST', '/admin/products', { token: await t.adminToken(), body: sampleProduct() })
  assert.equal(res.status, 201)
  await t.drainEvents()
  return { t, productId: res.body.id as string }
}

/** Searches until the breaker opens; every answer on the way is a 503, never a 500. */
async function searchUntilOpen(t: TestApp): Promise<void> {
  for (let i = 0; i < VOLUME_THRESHOLD * 2 && !t.api.modules.search.breakerIsOpen(); i++) {
    const res = await t.call('GET', '/store/search?q=boot')
    assert.equal(res.status, 503, JSON.stringify(res.body))
    assert.equal(res.body.code, 'unavailable')
  }
  assert.ok(t.api.modules.search.breakerIsOpen(), 'the breaker opened')
}

async function assertRefusedAtOnce(t: TestApp, searchQueries: () => number, productId: string): Promise<void> {
  // Searches that timed out before the breaker opened may still be queued for a connection
  // (the embedded database has one): a query behind them goes out after them.
  await t.platform.sql`select 1`
  const before = searchQueries()
  for (const path of ['/store/search?q=boot', '/store/search/suggest?q=tr']) {
    const started = performance.now()
    const res = await t.call('GET', path)
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    assert.match(res.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/)
    assert.ok(performance.now() - started < 200, 'refused without waiting')
  }
  assert.equal(searchQueries(), before, 'an open breaker sends nothing to PostgreSQL')
  const product = await t.call('GET', `/store/products/${productId}`)
  assert.equal(product.status, 200, 'product pages keep working')
}

test('values PostgreSQL refuses (bad input that got through) do not open it; a failing store does', async () => {
  const breaker = new Breaker({ timeoutMs: 1000, resetMs: 10_000 })
  const refusing = (code: string) => async () => {
    throw Object.assign(new Error('refused'), { code })
  }
  // bigint out of range, a date PostgreSQL cannot read, a NUL byte, a program limit
  for (const code of ['22003', '22008', '22021', '54000'].flatMap((c) => Array(VOLUME_THRESHOLD).fill(c))) {
    await assert.rejects(breaker.run(refusing(code)))
  }
  assert.equal(breaker.isOpen, false)
  // (The refused values counted as answered calls: it takes as many failures again to pass 50 %.)
  for (let i = 0; i < VOLUME_THRESHOLD * 10 && !breaker.isOpen; i++) await assert.rejects(breaker.run(refusing('42P01')))
  assert.equal(breaker.isOpen, true, 'a missing table is the store failing')
  breaker.shutdown()
})

describe('search circuit breaker', () => {
  test('a failing search store opens it: 503 + Retry-After at once, product pages answer, and it closes again', async () => {
    const queries: string[] = []
    const { t, productId } = await appWithProduct({ SEARCH_BREAKER_RESET_MS: '1000' }, (text) => queries.push(text))
    const searchQueries = () => queries.filter((q) => q.includes('search.')).length
    try {
      assert.equal((await t.call('GET', '/store/search?q=boot')).body.total, 1)
      await t.platform.sql`alter table search.documents rename to documents_offline`
      await searchUntilOpen(t)
      await assertRefusedAtOnce(t, searchQueries, productId)

      await t.platform.sql`alter table search.documents_offline rename to documents`
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const healed = await t.call('GET', '/store/search?q=boot')
      assert.equal(healed.status, 200, 'the trial call after the reset time succeeds')
      assert.equal(t.api.modules.search.breakerIsOpen(), false)
    } finally {
      await t.close()
    }
  })

  test('completions that time out are cancelled by PostgreSQL and hold none of the main pool: product pages still load', { skip: !realServers && 'one connection in the embedded database' }, async () => {
    const { t } = await appWithProduct({ SEARCH_TIMEOUT_MS: '300', SEARCH_BREAKER_RESET_MS: '60000' })
    const other = await t.call('POST', '/admin/products', { token: await t.adminToken(), body: sampleProduct() })
    const locker = connectDb({ url: t.databaseUrl, poolSize: 1 })
    let release: (() => void) | null = null
    try {
      await new Promise<void>((resolve) => {
        void locker.begin(async (tx) => {
          await tx`lock table search.terms in access exclusive mode`
          resolve()
          await new Promise<void>((done) => (release = done))
        })
      })
      // More completions than the main pool has connections (4), all stuck behind the lock.
      const suggests = await Promise.all(Array.from({ length: 8 }, (_, i) => t.call('GET', `/store/search/suggest?q=tr${i}`)))
      assert.ok(suggests.every((res) => res.status === 503))
      await new Promise((resolve) => setTimeout(resolve, 300)) // the last cancel in flight
      const [{ waiting }] = await t.platform.sql<{ waiting: number }[]>`
        select count(*)::int as waiting from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query like '%search.terms%'`
      assert.equal(waiting, 0, 'cancelled by their statement_timeout, not left holding connections for 10 s')
      const product = await t.call('GET', `/store/products/${other.body.id}`)
      assert.equal(product.status, 200, 'a product page not cached yet still loads')
    } finally {
      ;(release as (() => void) | null)?.()
      await locker.end()
      await t.close()
    }
  })

  test('searches that time out open it', async () => {
    const queries: string[] = []
    // PostgreSQL: a lock held by another session makes every search wait; statement_timeout
    // cancels it server-side at 300 ms. PGlite serves one session and has no
    // statement_timeout: a 1 ms budget is shorter than any search's round trips there.
    const { t, productId } = await appWithProduct(
      { SEARCH_TIMEOUT_MS: realServers ? '300' : '1', SEARCH_BREAKER_RESET_MS: '60000' },
      (text) => queries.push(text),
    )
    const searchQueries = () => queries.filter((q) => q.includes('search.')).length
    let locker: Sql | null = null
    let release: (() => void) | null = null
    try {
      if (realServers) {
        locker = connectDb({ url: t.databaseUrl, poolSize: 1 })
        const locked = new Promise<void>((resolve) => {
          void locker!.begin(async (tx) => {
            await tx`lock table search.documents in access exclusive mode`
            resolve()
            await new Promise<void>((done) => (release = done))
          })
        })
        await locked
      }
      await searchUntilOpen(t)
      await assertRefusedAtOnce(t, searchQueries, productId)
      if (realServers) {
        await new Promise((resolve) => setTimeout(resolve, 300)) // the last cancel in flight
        const [{ waiting }] = await t.platform.sql<{ waiting: number }[]>`
          select count(*)::int as waiting from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like '%search.documents%'`
        assert.equal(waiting, 0, 'timed-out searches were cancelled by PostgreSQL, not left waiting')
      }
    } finally {
      ;(release as (() => void) | null)?.()
      await locker?.end()
      await t.close()
    }
  })
})
