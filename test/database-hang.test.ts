// PostgreSQL stops answering without closing the connection (a network blackhole): the
// server's statement_timeout fires, but its error never arrives, so nothing would end the
// request for many minutes. The request deadline answers 503 instead; the checkout goes on
// behind it, and a retry with the same Idempotency-Key gets the one order it placed.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { sampleProduct, startTestApp } from './support/app.ts'
import { createDatabase } from './support/db.ts'
import { proxyFor } from './support/tcp-proxy.ts'

const embedded = !process.env.DATABASE_URL
const skip = embedded && 'needs DATABASE_URL: the embedded database is in-process'

/** An app whose database sits behind a proxy that can hang; a product in a guest cart, and how to check it out. */
async function appBehindProxy(t: TestContext, idempotencyKey: string) {
  const database = await createDatabase()
  const { proxy, url: proxiedUrl } = await proxyFor(database.url, 5432)
  const app = await startTestApp({ databaseUrl: proxiedUrl, env: { REQUEST_DEADLINE_MS: '2000' } })
  t.after(async () => {
    proxy.unhang()
    await app.close()
    await proxy.close()
    await database.drop()
  })
  const admin = await app.adminToken()
  const product = (await app.call('POST', '/admin/products', { token: admin, body: sampleProduct() })).body
  const cart = (await app.call('POST', '/store/carts')).body.id
  assert.equal((await app.call('POST', `/store/carts/${cart}/items`, { body: { variantId: product.variants[0].id, quantity: 1 } })).status, 200)
  const checkout = () =>
    app.call('POST', `/store/carts/${cart}/checkout`, {
      headers: { 'idempotency-key': idempotencyKey },
      body: {
        email: 'patient@example.com',
        shippingAddress: { name: 'Pat', line1: '1 Slow St', city: 'Springfield', postalCode: '12345', country: 'US' },
        payment: { card: { number: '4242424242424242', expMonth: 12, expYear: 2030, cvc: '123' } },
      },
    })
  return { app, proxy, admin, product, checkout }
}

test('a checkout held up by a silent database answers 503 at the deadline; the retry gets the one order', { skip }, async (t) => {
  const { app, proxy, checkout } = await appBehindProxy(t, 'silent-database-0001')

  proxy.hang()
  // Without a deadline nothing answers: the guard turns that into a failure, not a hang.
  const first = await Promise.race([checkout(), sleep(20_000).then(() => null)])
  assert.ok(first, 'an answer came')
  assert.equal(first.status, 503)
  assert.equal(first.body.code, 'unavailable')
  assert.ok(first.headers.get('retry-after'))

  proxy.unhang()
  let retry = await checkout()
  for (let i = 0; i < 40 && retry.status !== 201; i++) {
    assert.ok([409, 503].includes(retry.status), `while the first finishes: ${retry.status} ${JSON.stringify(retry.body)}`)
    await sleep(250)
    retry = await checkout()
  }
  assert.equal(retry.status, 201, 'the retry answers with the order the first request placed')
  assert.equal(retry.body.status, 'paid')
  const orders = await app.platform.sql<{ n: number }[]>`select count(*)::int as n from orders.orders`
  assert.equal(orders[0].n, 1, 'one order')
})

test('reads without a fallback of their own (an order, the admin list) answer 503 at the deadline too', { skip }, async (t) => {
  const { app, proxy, admin, product, checkout } = await appBehindProxy(t, 'silent-database-read-01')
  const order = await checkout()
  assert.equal(order.status, 201)
  const readOrder = () => app.call('GET', `/store/orders/${order.body.id}?accessToken=${order.body.accessToken}`)
  assert.equal((await readOrder()).status, 200)
  assert.equal((await app.call('GET', `/store/products/${product.id}`)).status, 200)

  proxy.hang()
  const started = Date.now()
  const [read, list] = await Promise.all(
    [readOrder(), app.call('GET', '/admin/orders', { token: admin })].map((call) => Promise.race([call, sleep(20_000).then(() => null)])),
  )
  for (const answer of [read, list]) {
    assert.ok(answer, 'an answer came')
    assert.equal(answer.status, 503)
    assert.equal(answer.body.code, 'unavailable')
    assert.ok(answer.headers.get('retry-after'))
  }
  assert.ok(Date.now() - started < 15_000)

  // The product page keeps its own fallback (the copy it read before), not the deadline's 503.
  assert.equal((await app.call('GET', `/store/products/${product.id}`)).status, 200)
  proxy.unhang()
  assert.equal((await readOrder()).status, 200)

  // Each deadline 503 counted once: the hijacked reply's onResponse does not count it again.
  const metrics = await (await fetch(`${app.url}/metrics`)).text()
  const counted = metrics.split('\n').filter((line) => line.startsWith('http_request_duration_seconds_count{') && line.includes('route="/store/orders/:id"') && line.includes('status="503"'))
  assert.deepEqual(counted.map((line) => Number(line.split(' ').pop())), [1])
})
