// The worker's housekeeping on a whole app: after a real checkout has aged past the
// retention windows, its Idempotency-Key, its delivered events and the processor's webhook
// about it are removed, and the order itself stays.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { startTestApp, type TestApp } from './support/app.ts'
import { DELIVERED_RETENTION_HOURS } from '../src/platform/bus/outbox.ts'
import { WEBHOOK_EVENT_RETENTION_DAYS } from '../src/modules/payments/index.ts'

let t: TestApp
before(async () => {
  t = await startTestApp()
})
after(() => t.close())

test('an aged checkout loses its key, its delivered events and its webhook to housekeeping, not its order', async () => {
  const product = await t.call('POST', '/admin/products', {
    token: await t.adminToken(),
    body: { name: 'Housekeeping Mug', brand: 'Testbrand', category: 'tests', variants: [{ sku: `HK-${randomBytes(4).toString('hex')}`, title: 'One', price: { amount: 500, currency: 'USD' }, stock: 5 }] },
  })
  assert.equal(product.status, 201)
  const cart = (await t.call('POST', '/store/carts')).body.id
  assert.equal((await t.call('POST', `/store/carts/${cart}/items`, { body: { variantId: product.body.variants[0].id, quantity: 1 } })).status, 200)
  const key = randomUUID()
  const order = await t.call('POST', `/store/carts/${cart}/checkout`, {
    headers: { 'idempotency-key': key },
    body: {
      email: 'hk@shop.test',
      shippingAddress: { name: 'H K', line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
      payment: { card: { number: '4242424242424242', expMonth: 12, expYear: 2035, cvc: '123' } },
    },
  })
  assert.equal(order.status, 201, JSON.stringify(order.body))
  await t.drainEvents()
  await t.api.modules.payments.simulator()!.webhooksIdle()
  const webhooks = async () => (await t.platform.sql<{ n: number }[]>`select count(*)::int as n from payments.webhook_events where order_id = ${order.body.id}`)[0].n
  assert.equal(await webhooks(), 1, 'the processor told us about the capture')

  assert.deepEqual(await t.housekeep(), { 'delivered outbox events': 0, 'expired idempotency keys': 0, 'old payment webhook events': 0 }, 'nothing is old yet')
  // One day short of the retention window: still kept for a redelivery.
  await t.platform.sql`update payments.webhook_events set received_at = now() - ${WEBHOOK_EVENT_RETENTION_DAYS - 1} * interval '1 day'`
  assert.equal((await t.housekeep())['old payment webhook events'], 0)
  await t.platform.sql`update payments.webhook_events set received_at = now() - ${WEBHOOK_EVENT_RETENTION_DAYS + 1} * interval '1 day'`
  await t.platform.sql`update orders.idempotency_keys set expires_at = now() - interval '1 minute' where split_part(key, '/', 2) = ${key}`
  await t.platform.sql`update platform.outbox set created_at = now() - ${DELIVERED_RETENTION_HOURS + 1} * interval '1 hour'`
  const [{ delivered }] = await t.platform.sql<{ delivered: number }[]>`select count(*)::int as delivered from platform.outbox where dispatched_at is not null`
  assert.ok(delivered > 0)

  const removed = await t.housekeep()
  assert.equal(removed['expired idempotency keys'], 1)
  assert.equal(removed['delivered outbox events'], delivered)
  assert.equal(removed['old payment webhook events'], 1)
  assert.equal(await webhooks(), 0)
  const [{ orders }] = await t.platform.sql<{ orders: number }[]>`select count(*)::int as orders from orders.orders where id = ${order.body.id}`
  assert.equal(orders, 1, 'the order stays')
})
