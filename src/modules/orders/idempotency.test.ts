// Idempotency-Keys live 24 hours: housekeeping deletes the expired ones in batches, and a key
// past its life is a new request again.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { freshDatabase, type FreshDatabase } from '../../../test/support/db.ts'
import { claimKey, finishKey, purgeExpiredKeys, requestHash } from './idempotency.ts'

let db: FreshDatabase
before(async () => {
  db = await freshDatabase()
})
after(() => db.close())

// This process, always alive: these tests are about the keys' life, not about takeovers.
const claimer = { id: 'this-process', isAlive: async () => true }
const keys = async () => (await db.sql<{ key: string }[]>`select key from orders.idempotency_keys order by key`).map((r) => r.key)
const expire = (key: string) => db.sql`update orders.idempotency_keys set expires_at = now() - interval '1 minute' where key = ${key}`

test('expired keys are purged in batches, whatever their state; live ones stay', async () => {
  for (const key of ['a-done', 'b-running', 'c-live', 'd-done']) {
    assert.equal((await claimKey(db.sql, claimer, key, requestHash({ key }))).kind, 'new')
  }
  await finishKey(db.sql, 'a-done', { status: 201, body: { id: 'ord_1' } })
  await finishKey(db.sql, 'd-done', { status: 201, body: { id: 'ord_2' } })
  for (const key of ['a-done', 'b-running', 'd-done']) await expire(key)

  assert.equal(await purgeExpiredKeys(db.sql, 2), 2)
  assert.equal(await purgeExpiredKeys(db.sql, 2), 1)
  assert.equal(await purgeExpiredKeys(db.sql, 2), 0)
  assert.deepEqual(await keys(), ['c-live'])
})

test('a key used again after its 24 hours is a new request, with a different body too', async () => {
  await claimKey(db.sql, claimer, 'reused', requestHash({ n: 1 }))
  await finishKey(db.sql, 'reused', { status: 201, body: { id: 'ord_3' } })
  await assert.rejects(claimKey(db.sql, claimer, 'reused', requestHash({ n: 2 })), /different request/)
  await expire('reused')
  assert.equal((await claimKey(db.sql, claimer, 'reused', requestHash({ n: 2 }))).kind, 'new')
})

test('keys stored before they were kept per shopper (migration 062): those with an order move to its shopper, the rest go; their retries still match', async () => {
  const order = (id: string, customer: number | null, cart: string) => db.sql`
    insert into orders.orders (id, status, customer_id, email, currency, subtotal, total, shipping_address, payment_key, region, cart_id)
    values (${id}, 'paid', ${customer}, 'a@shop.test', 'USD', 100, 100, '{}', ${'pay_' + id}, 'us', ${cart})`
  await order('ord_m1', 7, 'cart-of-7')
  await order('ord_m2', null, 'guest-cart')
  const legacy = requestHash({ card: { number: '4242424242424242', cvc: '123' } })
  for (const [key, orderId] of [['old-customer-key', 'ord_m1'], ['old-guest-key', 'ord_m2'], ['old-refusal-key', null]] as const) {
    await db.sql`insert into orders.idempotency_keys (key, request_hash, state, response_status, response_body, order_id, expires_at)
                 values (${key}, ${legacy}, 'done', 201, ${db.sql.json({ id: orderId })}, ${orderId}, now() + interval '1 hour')`
  }
  await db.sql`insert into orders.idempotency_keys (key, request_hash, state, expires_at) values ('merchant/refund-1', ${legacy}, 'done', now() + interval '1 hour')`
  await db.sql.unsafe(readFileSync(new URL('../../../migrations/062_orders_idempotency_per_shopper.sql', import.meta.url), 'utf8'))
  const moved = (await keys()).filter((key) => /old|refund-1/.test(key))
  assert.deepEqual(moved, ['cart:guest-cart/old-guest-key', 'customer:7/old-customer-key', 'merchant/refund-1'])
  // A retry hashes the request anew; the hash it was stored under (the whole card) still matches.
  const retried = await claimKey(db.sql, claimer, 'customer:7/old-customer-key', requestHash({ card: { last4: '4242' } }), () => legacy)
  assert.deepEqual(retried, { kind: 'stored', answer: { status: 201, body: { id: 'ord_m1' } } })
  await assert.rejects(claimKey(db.sql, claimer, 'customer:7/old-customer-key', requestHash({ card: { last4: '4242' } })), /different request/)
})
