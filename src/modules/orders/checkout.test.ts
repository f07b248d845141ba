import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { createLogger } from '../../platform/telemetry/log.ts'
import { sampleProduct, startTestApp, type TestApp } from '../../../test/support/app.ts'
import { checkout as placeCheckout } from './checkout.ts'
import { freePort } from '../../../test/support/processes.ts'
import { paymentPortFrom } from './payment-adapter.ts'
import { cancelOrder, reconcilePendingPayments, refundDuplicateCharge, refundOrder } from './order-actions.ts'

const CARDS = { ok: '4242424242424242', declined: '4000000000000002', funds: '4000000000009995', slow: '4000000000000259' }

describe('checkout, orders and payments', () => {
  let t: TestApp
  let token: string
  before(async () => {
    // A short client timeout and a slow card just past it keep the timeout path quick.
    t = await startTestApp({ env: { GATEWAY_TIMEOUT_MS: '1000', SIMULATOR_SLOW_MS: '2500' } })
    token = await t.adminToken()
  })
  after(() => t.close())

  const product = async (stocks: number[], amount = 2500) => {
    const body = sampleProduct({
      variants: stocks.map((stock, i) => ({ sku: `CO-${randomUUID().slice(0, 8)}-${i}`, title: `V${i}`, price: { amount, currency: 'USD' }, stock })),
    })
    const res = await t.call('POST', '/admin/products', { token, body })
    assert.equal(res.status, 201)
    return { id: res.body.id as string, variants: res.body.variants.map((v: { id: string }) => v.id) as string[] }
  }
  const cartWith = async (lines: [string, number][], auth?: string) => {
    const cart = await t.call('POST', '/store/carts', { token: auth })
    assert.equal(cart.status, 201)
    for (const [variantId, quantity] of lines) {
      const add = await t.call('POST', `/store/carts/${cart.body.id}/items`, { body: { variantId, quantity }, token: auth })
      assert.equal(add.status < 300, true, JSON.stringify(add.body))
    }
    return cart.body.id as string
  }
  const body = (card = CARDS.ok, email = 'shopper@shop.test') => ({
    email,
    shippingAddress: { name: 'Ada Shopper', line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
    payment: { card: { number: card, expMonth: 12, expYear: 2031, cvc: '123' } },
  })
  const checkout = (cartId: string, key: string = randomUUID(), card = CARDS.ok, auth?: string) =>
    t.call('POST', `/store/carts/${cartId}/checkout`, { body: body(card), headers: { 'idempotency-key': key }, token: auth })
  /** Checkout's dependencies as the app wires them; a test replaces a port by spreading over them. */
  const checkoutDeps = () => {
    const modules = t.api.modules
    return {
      sql: t.platform.sql,
      log: t.platform.log,
      cart: modules.cart.checkout,
      catalog: modules.catalog,
      inventory: modules.inventory,
      payments: paymentPortFrom(modules.payments.gateway),
      claimer: t.platform.liveness,
    }
  }
  const stock = async (variantId: string) => (await t.call('GET', `/admin/inventory/${variantId}`, { token })).body
  /** A guest checkout of a new cart whose charge's outcome is not known (timed out): 202, the order pending. */
  const placePending = async (lines: [string, number][]) => {
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    const pending = await placeCheckout(
      { ...checkoutDeps(), payments: { ...port, charge: async () => ({ status: 'unknown' as const, reason: 'timed out' }) } },
      { cartId: await cartWith(lines), customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card },
    )
    assert.equal(pending.status, 202)
    return pending.body as { id: string; total: { amount: number; currency: string } }
  }
  const simulator = () => t.api.modules.payments.simulator()!
  /** The order's status once it leaves pending_payment (the webhook settles it), or pending_payment after 5 s. */
  const settledStatus = async (orderId: string): Promise<string> => {
    for (let i = 0; ; i++) {
      const [{ status }] = await t.platform.sql<{ status: string }[]>`select status from orders.orders where id = ${orderId}`
      if (status !== 'pending_payment' || i >= 50) return status
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  /** A promise a test opens when it likes: a request held at one step. */
  const gate = () => {
    let open = () => {}
    const opened = new Promise<void>((resolve) => (open = resolve))
    return { open, opened }
  }
  /** Waits until a request started in the background has claimed its Idempotency-Key. */
  const keyClaimed = async (key: string) => {
    for (let i = 0; (await t.platform.sql`select 1 from orders.idempotency_keys where split_part(key, '/', 2) = ${key}`).length === 0; i++) {
      assert.ok(i < 100, 'the first request claimed the key')
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  const chargesFor = (orderId: string) => simulator().stats().keys[`charge:${orderId}`]?.executions ?? 0

  test('a guest checks out: 201 paid, stock sold, cart emptied, order readable with its access token only', async () => {
    const { variants: [v] } = await product([10])
    const cartId = await cartWith([[v, 2]])
    const res = await checkout(cartId)
    assert.equal(res.status, 201, JSON.stringify(res.body))
    const order = res.body
    assert.equal(order.status, 'paid')
    assert.match(order.id, /^ord_[A-Za-z0-9_-]{22}$/)
    assert.deepEqual(order.total, { amount: 5000, currency: 'USD' })
    assert.equal(order.items[0].quantity, 2)
    assert.ok(order.accessToken)
    assert.deepEqual(await stock(v), { ...(await stock(v)), available: 8, reserved: 0, sold: 2 })
    assert.equal((await t.call('GET', `/store/carts/${cartId}`)).body.items.length, 0)
    assert.equal(chargesFor(order.id), 1)

    const mine = await t.call('GET', `/store/orders/${order.id}?accessToken=${order.accessToken}`)
    assert.equal(mine.status, 200)
    assert.equal(mine.body.status, 'paid')
    assert.equal(mine.body.accessToken, undefined, 'the token is given once, in the checkout answer')
    assert.equal((await t.call('GET', `/store/orders/${order.id}`)).status, 404)
    assert.equal((await t.call('GET', `/store/orders/${order.id}?accessToken=wrong`)).status, 404)

    const events = await t.platform.sql`select type from platform.outbox where payload->>'orderId' = ${order.id} order by id`
    // The last: the worker takes the bought lines out of the cart too, should checkout not get to.
    assert.deepEqual(events.map((e) => e.type), ['order.placed', 'order.paid', 'order.paid_after_checkout'])
    const transitions = await t.platform.sql`select to_status, actor from orders.transitions where order_id = ${order.id} order by id`
    assert.deepEqual(transitions.map((r) => r.to_status), ['pending_payment', 'paid'])
  })

  test('300 shoppers racing for 50 units: exactly 50 paid, 250 out_of_stock, units conserved', async () => {
    const { variants: [v] } = await product([50])
    const carts = []
    for (let i = 0; i < 300; i++) carts.push(await cartWith([[v, 1]]))
    const answers = await Promise.all(carts.map((cartId) => checkout(cartId)))
    const statuses = answers.map((a) => a.status)
    // 202: the charge outcome was not known in time (a loaded machine); the units stay held
    // and the order settles through the webhook or reconciliation, never a second charge.
    const won = answers.filter((a) => a.status === 201 || a.status === 202)
    assert.equal(won.length, 50, statuses.join())
    assert.equal(statuses.filter((s) => s === 409).length, 250)
    assert.ok(answers.filter((a) => a.status === 409).every((a) => a.body.code === 'out_of_stock'))
    for (let i = 0; i < 100; i++) {
      const [{ pending }] = await t.platform.sql`
        select count(*)::int as pending from orders.order_lines l join orders.orders o on o.id = l.order_id
        where l.variant_id = ${v} and o.status = 'pending_payment'`
      if (pending === 0) break
      await new Promise((r) => setTimeout(r, 100))
      await t.api.modules.orders.reconcile({ olderThanSeconds: 0, holdSeconds: 900 })
    }
    const after = await stock(v)
    assert.deepEqual([after.available, after.reserved, after.sold], [0, 0, 50])
    const paid = await t.platform.sql`
      select count(*)::int as n from orders.order_lines l join orders.orders o on o.id = l.order_id
      where l.variant_id = ${v} and o.status = 'paid'`
    assert.equal(paid[0].n, 50)
    assert.ok(won.every((a) => chargesFor(a.body.id) === 1), 'each winning order charged exactly once')
  })

  test('a multi-line order is never partly reserved', async () => {
    const { variants: [a, b] } = await product([5, 5])
    const cartId = await cartWith([[a, 1], [b, 2]])
    await t.call('PUT', `/admin/inventory/${b}`, { token, body: { available: 1 } })
    const key = randomUUID()
    const res = await checkout(cartId, key)
    assert.equal(res.status, 409)
    assert.equal(res.body.code, 'out_of_stock')
    assert.deepEqual(res.body.lines, [{ variantId: b, requested: 2, available: 1 }])
    assert.deepEqual([(await stock(a)).available, (await stock(a)).reserved], [5, 0])
    assert.equal((await t.call('GET', `/store/carts/${cartId}`)).body.items.length, 2, 'the cart stays for another try')
    // Restocked: the key still answers what the shopper was told; a new try buys.
    await t.call('PUT', `/admin/inventory/${b}`, { token, body: { available: 5 } })
    assert.deepEqual(await checkout(cartId, key), res)
    assert.equal((await checkout(cartId, randomUUID())).status, 201)
  })

  test('overlapping carts checked out in opposite orders finish without deadlock', async () => {
    const { variants: [a, b] } = await product([100, 100])
    const carts = []
    for (let i = 0; i < 20; i++) carts.push(await cartWith(i % 2 ? [[a, 1], [b, 1]] : [[b, 1], [a, 1]]))
    const answers = await Promise.all(carts.map((c) => checkout(c)))
    assert.ok(answers.every((r) => r.status === 201))
    assert.deepEqual([(await stock(a)).sold, (await stock(b)).sold], [20, 20])
  })

  test('idempotent replay: the same key returns the first answer; another body with it is refused', async () => {
    const { variants: [v] } = await product([10])
    const cartId = await cartWith([[v, 1]])
    const key = randomUUID()
    const first = await checkout(cartId, key)
    assert.equal(first.status, 201)
    const again = await checkout(cartId, key)
    assert.equal(again.status, 201)
    assert.deepEqual(again.body, first.body)
    // The same fields in another order (a client that re-serializes its retry) are the same request.
    const { shippingAddress, payment, email } = body()
    const reordered = await t.call('POST', `/store/carts/${cartId}/checkout`, {
      body: { payment: { card: Object.fromEntries(Object.entries(payment.card).reverse()) }, shippingAddress: Object.fromEntries(Object.entries(shippingAddress).reverse()), email },
      headers: { 'idempotency-key': key },
    })
    assert.equal(reordered.status, 201, JSON.stringify(reordered.body))
    assert.deepEqual(reordered.body, first.body)
    const other = await t.call('POST', `/store/carts/${cartId}/checkout`, {
      body: body(CARDS.ok, 'someone-else@shop.test'),
      headers: { 'idempotency-key': key },
    })
    assert.equal(other.status, 422)
    assert.equal(other.body.code, 'idempotency_conflict')
    assert.equal((await stock(v)).sold, 1)
    assert.equal(chargesFor(first.body.id), 1)
  })

  test("an Idempotency-Key is the shopper's own: two guests, or two customers, with the same key each get their own order", async () => {
    const { variants: [v] } = await product([10])
    const key = `checkout-1-${randomUUID().slice(0, 8)}`
    const [a, b] = await Promise.all([checkout(await cartWith([[v, 1]]), key), checkout(await cartWith([[v, 2]]), key)])
    assert.deepEqual([a.status, b.status], [201, 201], JSON.stringify([a.body, b.body]))
    assert.notEqual(a.body.id, b.body.id)
    const register = async () =>
      (await t.call('POST', '/store/auth/register', { body: { email: `k-${randomUUID().slice(0, 8)}@shop.test`, password: 'correct-horse-1', name: 'Shopper', country: 'DE' } })).body.token as string
    const customers = [await register(), await register()]
    const answers = []
    for (const [i, customer] of customers.entries()) {
      const cart = (await t.call('GET', '/store/customers/me/cart', { token: customer })).body.id
      await t.call('POST', `/store/carts/${cart}/items`, { body: { variantId: v, quantity: 1 + i }, token: customer })
      answers.push(await checkout(cart, key, CARDS.ok, customer))
    }
    assert.deepEqual(answers.map((r) => r.status), [201, 201], JSON.stringify(answers.map((r) => r.body)))
    assert.deepEqual(answers.map((r) => r.body.items[0].quantity), [1, 2], "each customer's own cart bought")
    assert.equal((await stock(v)).sold, 6)
    // Within one shopper the key still names one request.
    const cart = (await t.call('GET', '/store/customers/me/cart', { token: customers[0] })).body.id
    await t.call('POST', `/store/carts/${cart}/items`, { body: { variantId: v, quantity: 1 }, token: customers[0] })
    const reused = await checkout(cart, key, CARDS.ok, customers[0])
    assert.deepEqual([reused.status, reused.body.id], [201, answers[0].body.id], 'the first answer, not a second order')
  })

  test("what makes a retry the same request: not the e-mail's case, the card's CVC or middle digits; its number's ends and expiry, yes", async () => {
    const { variants: [v] } = await product([10])
    const cartId = await cartWith([[v, 1]])
    const key = randomUUID()
    const send = (changes: { email?: string; card?: Partial<{ number: string; cvc: string; expYear: number }> }) => {
      const sent = body(CARDS.ok, changes.email)
      return t.call('POST', `/store/carts/${cartId}/checkout`, { body: { ...sent, payment: { card: { ...sent.payment.card, ...changes.card } } }, headers: { 'idempotency-key': key } })
    }
    const first = await send({})
    assert.equal(first.status, 201)
    // Neither the whole number nor the CVC is part of the request's stored hash (a hash of them could be reversed by trying numbers).
    for (const same of [{ email: '  Shopper@Shop.TEST ' }, { card: { cvc: '999' } }, { card: { number: '4242420000004242' } }]) {
      const again = await send(same)
      assert.deepEqual([again.status, again.body.id], [201, first.body.id], JSON.stringify(same))
    }
    for (const other of [{ card: { number: '4000056655665556' } }, { card: { expYear: 2032 } }, { email: 'other@shop.test' }]) {
      assert.equal((await send(other)).status, 422, JSON.stringify(other))
    }
    assert.equal((await stock(v)).sold, 1)
  })

  test('10 concurrent requests with one key: one order, one charge', async () => {
    const { variants: [v] } = await product([10])
    const cartId = await cartWith([[v, 1]])
    const key = randomUUID()
    const answers = await Promise.all(Array.from({ length: 10 }, () => checkout(cartId, key)))
    const created = answers.filter((a) => a.status === 201)
    const inProgress = answers.filter((a) => a.status === 409)
    assert.equal(created.length + inProgress.length, 10)
    assert.ok(inProgress.every((a) => a.body.code === 'request_in_progress' && a.headers.get('retry-after') === '1'))
    assert.ok(created.length >= 1)
    assert.equal(new Set(created.map((a) => a.body.id)).size, 1, 'one order')
    assert.equal(created[0].headers.get('location'), `/store/orders/${created[0].body.id}`)
    // The ones told "in progress" get the same order when they retry.
    const retried = await checkout(cartId, key)
    assert.equal(retried.body.id, created[0].body.id)
    const orders = await t.platform.sql`select id from orders.orders o join orders.order_lines l on l.order_id = o.id where l.variant_id = ${v}`
    assert.equal(orders.length, 1)
    assert.equal(chargesFor(created[0].body.id), 1)
    assert.equal((await stock(v)).sold, 1)
  })

  test('one cart checked out twice at once with two keys (a double click): one order, one charge; the other is told to wait', async () => {
    const { variants: [v] } = await product([10])
    for (let round = 0; round < 5; round++) {
      const cartId = await cartWith([[v, 1]])
      const answers = await Promise.all([checkout(cartId), checkout(cartId)])
      const statuses = answers.map((a) => a.status).sort()
      assert.ok(statuses[0] === 201 && [201, 400, 409].includes(statuses[1]), JSON.stringify(answers.map((a) => a.body)))
      const created = answers.filter((a) => a.status === 201)
      assert.equal(created.length, 1, 'one order')
      const other = answers.find((a) => a !== created[0])!
      // At once: told another checkout holds the cart; just after: the cart is empty.
      assert.ok(other.body.code === 'checkout_in_progress' || other.body.code === 'validation_failed', JSON.stringify(other.body))
      if (other.body.code === 'checkout_in_progress') assert.equal(other.headers.get('retry-after'), '1')
    }
    assert.equal((await stock(v)).sold, 5)
  })

  test('a declined card: 402, order cancelled, stock released, cart kept; counted as payment_declined', async () => {
    const declines = async () => {
      const text = await t.platform.metrics.registry.getSingleMetricAsString('checkout_outcomes_total')
      return Number(/outcome="payment_declined"\} (\d+)/.exec(text)?.[1] ?? 0)
    }
    for (const card of [CARDS.declined, CARDS.funds]) {
      const { variants: [v] } = await product([3])
      const cartId = await cartWith([[v, 2]])
      const before = await declines()
      const res = await checkout(cartId, randomUUID(), card)
      assert.equal(res.status, 402)
      assert.equal(await declines(), before + 1)
      assert.equal(res.body.code, 'payment_declined')
      assert.equal(res.body.declineCode, card === CARDS.funds ? 'insufficient_funds' : 'card_declined')
      assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved, (await stock(v)).sold], [3, 0, 0])
      const [order] = await t.platform.sql`select status from orders.orders where id = ${res.body.orderId}`
      assert.equal(order.status, 'cancelled')
      assert.equal((await t.call('GET', `/store/carts/${cartId}`)).body.items.length, 1)
    }
  })

  test('card testing: a cart with 5 declined payments within the hour is refused further checkouts (429 with Retry-After)', async () => {
    const { variants: [v] } = await product([50])
    const cartId = await cartWith([[v, 1]])
    for (let i = 0; i < 5; i++) assert.equal((await checkout(cartId, randomUUID(), i % 2 ? CARDS.funds : CARDS.declined)).status, 402)
    const orders = async () => (await t.platform.sql`select count(*)::int as n from orders.orders o join orders.order_lines l on l.order_id = o.id where l.variant_id = ${v}`)[0].n
    const placed = await orders()
    for (const card of [CARDS.declined, CARDS.ok]) {
      const refused = await checkout(cartId, randomUUID(), card)
      assert.equal(refused.status, 429, JSON.stringify(refused.body))
      assert.equal(refused.body.code, 'too_many_requests')
      const retryAfter = Number(refused.headers.get('retry-after'))
      assert.ok(retryAfter > 0 && retryAfter <= 3600, `retry-after ${retryAfter}`)
    }
    assert.equal(await orders(), placed, 'nothing placed, nothing sent to the gateway')
    assert.equal((await checkout(await cartWith([[v, 1]]))).status, 201, 'another cart checks out')
  })

  test('a charge the processor refuses as invalid (an amount above its limit) is final: 402, order cancelled, stock released', async () => {
    const { variants: [v] } = await product([5], 60_000_000)
    const cartId = await cartWith([[v, 2]])
    const res = await checkout(cartId)
    assert.equal(res.status, 402, JSON.stringify(res.body))
    assert.equal(res.body.code, 'payment_declined')
    assert.equal(res.body.declineCode, 'invalid_request')
    const [order] = await t.platform.sql`select status from orders.orders where id = ${res.body.orderId}`
    assert.equal(order.status, 'cancelled')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved], [5, 0])
    // Not a card declined: past the cart's limit of declines (5), still the processor's answer, never 429.
    for (let i = 0; i < 5; i++) assert.deepEqual([(await checkout(cartId)).body.declineCode], ['invalid_request'], `try ${i + 2}`)
  })

  test('free items (a total of 0): paid without a charge, and refunded without one', async () => {
    const { variants: [v] } = await product([5], 0)
    const cartId = await cartWith([[v, 2]])
    const res = await checkout(cartId)
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.equal(res.body.status, 'paid')
    assert.deepEqual(res.body.total, { amount: 0, currency: 'USD' })
    assert.equal(chargesFor(res.body.id), 0, 'the gateway was not asked')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [3, 2])
    assert.equal((await t.call('GET', `/store/carts/${cartId}`)).body.items.length, 0)
    const refunded = await t.call('POST', `/admin/orders/${res.body.id}/refund`, { token })
    assert.equal(refunded.status, 200, JSON.stringify(refunded.body))
    assert.equal(refunded.body.status, 'refunded')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [5, 0])
  })

  test('the slow card: the client times out, retries with the same key, the order settles paid and is charged once', async () => {
    const { variants: [v] } = await product([5])
    const cartId = await cartWith([[v, 1]])
    const res = await checkout(cartId, randomUUID(), CARDS.slow)
    assert.ok([201, 202].includes(res.status), `${res.status} ${JSON.stringify(res.body)}`)
    const orderId = res.body.id
    if (res.status === 202) {
      assert.equal(res.body.status, 'pending_payment')
      assert.equal(res.headers.get('retry-after'), '5', 'the order is there to be read again shortly')
      assert.equal((await stock(v)).reserved, 1, 'held while the outcome is unknown')
      // Reconciliation asks the gateway with the order's key once the slow charge is done.
      let settled = 0
      for (let i = 0; i < 30 && settled === 0; i++) {
        await new Promise((r) => setTimeout(r, 200))
        settled = await t.api.modules.orders.reconcile({ olderThanSeconds: 0, holdSeconds: 900 })
      }
    }
    const [order] = await t.platform.sql`select status from orders.orders where id = ${orderId}`
    assert.equal(order.status, 'paid')
    assert.equal(chargesFor(orderId), 1)
    assert.deepEqual([(await stock(v)).reserved, (await stock(v)).sold], [0, 1])
  })

  test('an order left pending by a timeout settles through the signed payment webhook alone', async () => {
    const { variants: [v] } = await product([5])
    const res = await checkout(await cartWith([[v, 1]]), randomUUID(), CARDS.slow)
    const orderId = res.body.id
    assert.equal(await settledStatus(orderId), 'paid')
    const actors = await t.platform.sql`select actor from orders.transitions where order_id = ${orderId} and to_status = 'paid'`
    assert.ok(['webhook', 'checkout'].includes(actors[0].actor))
    if (res.status === 202) assert.equal(actors[0].actor, 'webhook', 'nobody else settled it')
    assert.equal(chargesFor(orderId), 1)
    const received = await t.platform.sql`select count(*)::int as n from payments.webhook_events`
    assert.ok(received[0].n >= 1)
  })

  test('a 202 is not the final answer: once the order settles, a retry with the same key answers it paid, with its access token', async () => {
    const { variants: [v] } = await product([5])
    const cartId = await cartWith([[v, 1]])
    const key = randomUUID()
    const first = await checkout(cartId, key, CARDS.slow)
    assert.equal(first.status, 202, JSON.stringify(first.body))
    assert.ok(first.body.accessToken)
    const pending = await checkout(cartId, key, CARDS.slow)
    assert.equal(pending.status, 202)
    assert.equal(pending.body.status, 'pending_payment')
    assert.equal(pending.body.accessToken, first.body.accessToken)
    let answer = pending
    for (let i = 0; i < 50 && answer.status === 202; i++) {
      await new Promise((r) => setTimeout(r, 100))
      answer = await checkout(cartId, key, CARDS.slow)
    }
    assert.equal(answer.status, 201, JSON.stringify(answer.body))
    assert.equal(answer.body.id, first.body.id)
    assert.equal(answer.body.status, 'paid')
    assert.equal(answer.body.accessToken, first.body.accessToken)
    const [stored] = await t.platform.sql`select state, response_status from orders.idempotency_keys where split_part(key, '/', 2) = ${key}`
    assert.deepEqual([stored.state, stored.response_status], ['done', 201], 'the final answer is stored')
    assert.equal(chargesFor(first.body.id), 1)
  })

  test('cancelling an order whose charge is still processing is refused until it settles; a paid one is refunded, not cancelled', async () => {
    const { variants: [v] } = await product([5])
    const res = await checkout(await cartWith([[v, 1]]), randomUUID(), CARDS.slow)
    assert.equal(res.status, 202, JSON.stringify(res.body))
    const orderId = res.body.id
    const early = await t.call('POST', `/admin/orders/${orderId}/cancel`, { token })
    assert.equal(early.status, 409, JSON.stringify(early.body))
    assert.equal(early.body.code, 'payment_in_progress')
    assert.equal(await settledStatus(orderId), 'paid')
    assert.equal((await t.call('POST', `/admin/orders/${orderId}/cancel`, { token })).status, 409)
    assert.deepEqual([(await stock(v)).reserved, (await stock(v)).sold], [0, 1], 'the units stay sold, not back on sale')
    assert.equal(chargesFor(orderId), 1)
  })

  test('a charge captured after its order was cancelled is refunded by the worker, once', async () => {
    const { variants: [v] } = await product([5])
    const res = await checkout(await cartWith([[v, 1]]), randomUUID(), CARDS.slow)
    assert.equal(res.status, 202, JSON.stringify(res.body))
    const orderId = res.body.id
    // The cancel won the race: it found no charge at the gateway (one still on its way).
    await t.platform.sql`update orders.orders set status = 'cancelled' where id = ${orderId}`
    let events: { n: number }[] = []
    for (let i = 0; i < 50 && !events[0]?.n; i++) {
      await new Promise((r) => setTimeout(r, 100))
      events = await t.platform.sql`select count(*)::int as n from platform.outbox where type = 'order.charge_after_cancel' and payload->>'orderId' = ${orderId}`
    }
    assert.ok(events[0].n >= 1, 'the capture was noticed')
    await t.drainEvents()
    const payment = await t.api.modules.payments.gateway.status({ idempotencyKey: `charge:${orderId}` })
    assert.ok(payment.ok)
    assert.equal(payment.payment.status, 'refunded')
    assert.equal(payment.payment.refunded.amount, payment.payment.amount.amount)
    const [order] = await t.platform.sql`select status from orders.orders where id = ${orderId}`
    assert.equal(order.status, 'cancelled')
  })

  test('paid after checkout answered (the webhook): the bought lines leave the cart, lines added meanwhile stay', async () => {
    const { variants: [v, w, x] } = await product([5, 5, 5])
    const cartId = await cartWith([[v, 2], [w, 1]])
    const res = await checkout(cartId, randomUUID(), CARDS.slow)
    assert.equal(res.status, 202, JSON.stringify(res.body))
    assert.equal((await t.call('GET', `/store/carts/${cartId}`)).body.items.length, 2, 'kept while the outcome is unknown')
    // The shopper goes on shopping meanwhile: one more of v, and x.
    for (const [variantId, quantity] of [[v, 1], [x, 1]] as const) {
      assert.equal((await t.call('POST', `/store/carts/${cartId}/items`, { body: { variantId, quantity } })).status, 200)
    }
    assert.equal(await settledStatus(res.body.id), 'paid')
    await t.drainEvents()
    const items = (await t.call('GET', `/store/carts/${cartId}`)).body.items.map((i: { variantId: string; quantity: number }) => [i.variantId, i.quantity])
    assert.deepEqual(items.sort(), [[v, 1], [x, 1]].sort(), 'the two bought of v and the one of w are gone')
  })

  test('while a payment is processing, lines can be added and raised but not removed or lowered: a line removed and added again would lose its new units', async () => {
    const { variants: [v, w, x] } = await product([9, 9, 9])
    const cartId = await cartWith([[v, 2], [w, 2]])
    const res = await checkout(cartId, randomUUID(), CARDS.slow)
    assert.equal(res.status, 202, JSON.stringify(res.body))
    const line = (variantId: string) => `/store/carts/${cartId}/items/${variantId}`
    const removed = await t.call('DELETE', line(v))
    assert.deepEqual([removed.status, removed.body.code], [409, 'checkout_in_progress'], JSON.stringify(removed.body))
    assert.equal(removed.headers.get('retry-after'), '5')
    const lowered = await t.call('PATCH', line(w), { body: { quantity: 1 } })
    assert.deepEqual([lowered.status, lowered.body.code], [409, 'checkout_in_progress'])
    assert.equal((await t.call('PATCH', line(w), { body: { quantity: 3 } })).status, 200, 'raising is open')
    assert.equal((await t.call('POST', `/store/carts/${cartId}/items`, { body: { variantId: x, quantity: 1 } })).status, 200)

    assert.equal(await settledStatus(res.body.id), 'paid')
    await t.drainEvents()
    const items = (await t.call('GET', `/store/carts/${cartId}`)).body.items.map((i: { variantId: string; quantity: number }) => [i.variantId, i.quantity])
    assert.deepEqual(items.sort(), [[w, 1], [x, 1]].sort(), 'the bought units came off the top; the raise and the new line stay')
    assert.equal((await t.call('DELETE', line(w))).status, 200, 'settled: the cart is free to change')
    assert.deepEqual((await t.call('GET', `/store/carts/${cartId}`)).body.items.map((i: { variantId: string }) => i.variantId), [x])
  })

  test('a reported capture of another amount settles nothing; the order\'s own charge does', async () => {
    const { variants: [v] } = await product([5])
    const res = await checkout(await cartWith([[v, 1]]), randomUUID(), CARDS.slow)
    assert.equal(res.status, 202, JSON.stringify(res.body))
    const orderId = res.body.id
    // A verified event for this order id, but for 1 cent (someone else's payment).
    const forged = { type: 'payment.captured', payment: { id: 'pay_forged', orderId, status: 'captured', amount: { amount: 1, currency: 'USD' } } }
    await t.platform.sql.begin((tx) => t.api.modules.orders.onPaymentEvent(forged, tx))
    const [pending] = await t.platform.sql`select status, payment_id from orders.orders where id = ${orderId}`
    assert.deepEqual([pending.status, pending.payment_id], ['pending_payment', null])
    await settledStatus(orderId)
    const [paid] = await t.platform.sql`select status, payment_id from orders.orders where id = ${orderId}`
    assert.equal(paid.status, 'paid')
    assert.notEqual(paid.payment_id, 'pay_forged')
    assert.ok(paid.payment_id)
  })

  test('a changed price: 409 with old and new prices; the cart takes the new price and the next try succeeds', async () => {
    const { id, variants: [v] } = await product([5], 2500)
    const cartId = await cartWith([[v, 1]])
    await t.call('PATCH', `/admin/products/${id}`, { token, body: { variants: [{ id: v, price: { amount: 2700, currency: 'USD' } }] } })
    const key = randomUUID()
    const res = await checkout(cartId, key)
    assert.equal(res.status, 409)
    assert.equal(res.body.code, 'price_changed')
    assert.deepEqual(res.body.changes, [{ variantId: v, oldPrice: { amount: 2500, currency: 'USD' }, newPrice: { amount: 2700, currency: 'USD' } }])
    assert.equal((await stock(v)).reserved + (await stock(v)).sold, 0, 'nothing held')
    const cart = await t.call('GET', `/store/carts/${cartId}`)
    assert.equal(cart.body.items[0].unitPrice.amount, 2700)
    // The key's answer is the 409: a retry with it (the answer lost, a client retrying by
    // itself) is told the new price again, and never buys at it unseen.
    const retried = await checkout(cartId, key)
    assert.equal(retried.status, 409)
    assert.deepEqual(retried.body, res.body)
    assert.equal((await stock(v)).sold, 0)
    // The shopper's next try, with the new price seen, is a new request.
    const second = await checkout(cartId, randomUUID())
    assert.equal(second.status, 201)
    assert.equal(second.body.total.amount, 2700)
  })

  test('a line repriced in another currency than the rest of the cart is no longer sold in it; a whole cart moved to one currency is a price change', async () => {
    const [usd, moving] = [await product([5], 1000), await product([5], 2000)]
    const cartId = await cartWith([[usd.variants[0], 1], [moving.variants[0], 1]])
    await t.call('PATCH', `/admin/products/${moving.id}`, { token, body: { variants: [{ id: moving.variants[0], price: { amount: 1900, currency: 'EUR' } }] } })
    const res = await checkout(cartId)
    assert.equal(res.status, 409)
    assert.equal(res.body.code, 'out_of_stock')
    assert.deepEqual(res.body.lines, [{ variantId: moving.variants[0], requested: 1, available: 0 }])
    const cart = (await t.call('GET', `/store/carts/${cartId}`)).body
    assert.deepEqual(cart.items.map((i: { unitPrice: { currency: string } }) => i.unitPrice.currency), ['USD', 'USD'], 'the cart never holds two currencies')
    assert.deepEqual(cart.subtotal, { amount: 3000, currency: 'USD' })
    await t.call('DELETE', `/store/carts/${cartId}/items/${moving.variants[0]}`)
    assert.equal((await checkout(cartId)).status, 201)
    // Alone in its cart, the line takes the new currency with its new price.
    const alone = await cartWith([[moving.variants[0], 1]])
    await t.call('PATCH', `/admin/products/${moving.id}`, { token, body: { variants: [{ id: moving.variants[0], price: { amount: 2000, currency: 'USD' } }] } })
    const single = await cartWith([[moving.variants[0], 1]])
    await t.call('PATCH', `/admin/products/${moving.id}`, { token, body: { variants: [{ id: moving.variants[0], price: { amount: 1900, currency: 'EUR' } }] } })
    const changed = await checkout(single)
    assert.equal(changed.body.code, 'price_changed')
    const paid = await checkout(single)
    assert.equal(paid.status, 201, JSON.stringify(paid.body))
    assert.deepEqual(paid.body.total, { amount: 1900, currency: 'EUR' })
    assert.equal((await checkout(alone)).status, 201, 'a cart added to in EUR buys in EUR')
  })

  test('bad input: no Idempotency-Key, a bad card number, an unknown cart', async () => {
    const { variants: [v] } = await product([5])
    const cartId = await cartWith([[v, 1]])
    const noKey = await t.call('POST', `/store/carts/${cartId}/checkout`, { body: body() })
    assert.equal(noKey.status, 400)
    assert.equal(noKey.body.errors[0].path, 'idempotency-key')
    const badCard = await t.call('POST', `/store/carts/${cartId}/checkout`, {
      body: { ...body(), payment: { card: { number: '42', expMonth: 13, expYear: 2031, cvc: '1' } } },
      headers: { 'idempotency-key': randomUUID() },
    })
    assert.equal(badCard.status, 400)
    const paths = badCard.body.errors.map((e: { path: string }) => e.path)
    assert.ok(paths.includes('payment.card.number') && paths.includes('payment.card.expMonth'), paths.join())
    // An expired card is told before any order is placed (and counted as a decline).
    const today = new Date()
    const lastMonth = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 15))
    for (const [expiry, path] of [
      [{ expMonth: 12, expYear: today.getUTCFullYear() - 1 }, 'payment.card.expYear'],
      [{ expMonth: lastMonth.getUTCMonth() + 1, expYear: lastMonth.getUTCFullYear() }, lastMonth.getUTCFullYear() < today.getUTCFullYear() ? 'payment.card.expYear' : 'payment.card.expMonth'],
    ] as const) {
      const expired = await t.call('POST', `/store/carts/${cartId}/checkout`, {
        body: { ...body(), payment: { card: { ...body().payment.card, ...expiry } } },
        headers: { 'idempotency-key': randomUUID() },
      })
      assert.deepEqual([expired.status, expired.body.errors], [400, [{ path, message: 'the card has expired' }]], JSON.stringify(expiry))
    }
    assert.equal((await t.platform.sql`select count(*)::int as n from orders.orders where cart_id = ${cartId}`)[0].n, 0, 'no order placed')
    // An address is checked like an account's: a country that exists, no blank fields.
    const badAddress = await t.call('POST', `/store/carts/${cartId}/checkout`, {
      body: { ...body(), shippingAddress: { ...body().shippingAddress, name: '   ' } },
      headers: { 'idempotency-key': randomUUID() },
    })
    assert.deepEqual(badAddress.body.errors, [{ path: 'shippingAddress.name', message: 'must not be blank or contain control characters' }])
    const noCountry = await t.call('POST', `/store/carts/${cartId}/checkout`, {
      body: { ...body(), shippingAddress: { ...body().shippingAddress, country: 'XX' } },
      headers: { 'idempotency-key': randomUUID() },
    })
    assert.equal(noCountry.status, 400)
    assert.deepEqual(noCountry.body.errors, [{ path: 'shippingAddress.country', message: 'is not an ISO 3166-1 alpha-2 country code' }])
    const noEmail = await t.call('POST', `/store/carts/${cartId}/checkout`, { body: body(CARDS.ok, 'shopper.example.com'), headers: { 'idempotency-key': randomUUID() } })
    assert.deepEqual(noEmail.body.errors, [{ path: 'email', message: 'is not an e-mail address' }])
    assert.equal((await stock(v)).reserved, 0)
    // An address one can register with is one to buy with.
    const intl = await t.call('POST', `/store/carts/${cartId}/checkout`, { body: body(CARDS.ok, 'ünï@exämple.com'), headers: { 'idempotency-key': randomUUID() } })
    assert.equal(intl.status, 201, JSON.stringify(intl.body))
    assert.equal(intl.body.email, 'ünï@exämple.com')
    assert.equal((await checkout('AAAAAAAAAAAAAAAAAAAAAA')).status, 404)
    const empty = await cartWith([])
    const emptyRes = await checkout(empty)
    assert.equal(emptyRes.status, 400)
    assert.equal(emptyRes.body.errors[0].path, 'cart')
  })

  test('a checkout with a revoked bearer token is a 401, not a guest order; a stale cookie goes on as a guest', async () => {
    const email = `revoked-${randomUUID().slice(0, 6)}@shop.test`
    const shopper = (await t.call('POST', '/store/auth/register', { body: { email, password: 'correct-horse-1', name: 'Shopper', country: 'DE' } })).body.token as string
    const { variants: [v] } = await product([10])
    const cartId = await cartWith([[v, 1]])
    assert.equal((await t.call('POST', '/store/auth/logout', { token: shopper })).status, 204)

    const refused = await checkout(cartId, randomUUID(), CARDS.ok, shopper)
    assert.equal(refused.status, 401)
    assert.equal(refused.body.errors[0].path, 'authorization')
    assert.equal((await stock(v)).sold, 0, 'nothing placed')
    assert.equal((await t.platform.sql`select count(*)::int as n from orders.orders where cart_id = ${cartId}`)[0].n, 0)

    const stale = await t.call('POST', `/store/carts/${cartId}/checkout`, { body: body(CARDS.ok), headers: { 'idempotency-key': randomUUID(), cookie: `sid=${shopper}` } })
    assert.equal(stale.status, 201, 'a browser remembering an old sign-in checks out as a guest')
    assert.equal(typeof stale.body.accessToken, 'string')
  })

  test("the bearer scheme's name is case-insensitive: a shopper sending `bearer` buys in their account", async () => {
    const email = `scheme-${randomUUID().slice(0, 6)}@shop.test`
    const token = (await t.call('POST', '/store/auth/register', { body: { email, password: 'correct-horse-1', name: 'Shopper', country: 'DE' } })).body.token as string
    const { variants: [v] } = await product([10])
    const cartId = await cartWith([[v, 1]])
    for (const scheme of ['bearer', 'BEARER']) {
      const me = await t.call('GET', '/store/customers/me', { headers: { authorization: `${scheme} ${token}` } })
      assert.equal(me.status, 200, scheme)
      assert.equal(me.body.email, email)
    }
    const placed = await t.call('POST', `/store/carts/${cartId}/checkout`, { body: body(CARDS.ok), headers: { 'idempotency-key': randomUUID(), authorization: `bearer ${token}` } })
    assert.equal(placed.status, 201)
    assert.equal(placed.body.accessToken, undefined, 'an account order, not a guest one')
    const mine = await t.call('GET', '/store/customers/me/orders', { token })
    assert.deepEqual(mine.body.items.map((o: { id: string }) => o.id), [placed.body.id])
  })

  test('order lists page through orders placed within one millisecond: none skipped', async () => {
    const email = `pager-${randomUUID().slice(0, 6)}@shop.test`
    const shopper = (await t.call('POST', '/store/auth/register', { body: { email, password: 'correct-horse-1', name: 'Shopper', country: 'DE' } })).body.token as string
    const { variants: [v] } = await product([10])
    const cartId = (await t.call('GET', '/store/customers/me/cart', { token: shopper })).body.id
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      await t.call('POST', `/store/carts/${cartId}/items`, { body: { variantId: v, quantity: 1 }, token: shopper })
      const placed = await checkout(cartId, randomUUID(), CARDS.ok, shopper)
      assert.equal(placed.status, 201)
      ids.push(placed.body.id)
    }
    // PostgreSQL keeps microseconds: three orders in one millisecond, as a burst places them.
    for (const [i, id] of ids.entries()) await t.platform.sql`update orders.orders set created_at = ${`2026-01-01T00:00:00.000${i + 1}00Z`}::text::timestamptz where id = ${id}`
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await t.call('GET', `/store/customers/me/orders?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { token: shopper })
      assert.equal(page.status, 200)
      seen.push(...page.body.items.map((o) => o.id))
      cursor = page.body.nextCursor
    } while (cursor && seen.length < 10)
    assert.deepEqual(seen, [...ids].reverse(), 'newest first, every one once')
  })

  test('account orders: only the owner sees them; admin lists, fulfils, cancels and refunds', async () => {
    const register = async (email: string) =>
      (await t.call('POST', '/store/auth/register', { body: { email, password: 'correct-horse-1', name: 'Shopper', country: 'DE' } })).body.token as string
    const alice = await register(`alice-${randomUUID().slice(0, 6)}@shop.test`)
    const bob = await register(`bob-${randomUUID().slice(0, 6)}@shop.test`)
    const { variants: [v] } = await product([10])
    const aliceCart = (await t.call('GET', '/store/customers/me/cart', { token: alice })).body.id
    await t.call('POST', `/store/carts/${aliceCart}/items`, { body: { variantId: v, quantity: 3 }, token: alice })
    assert.equal((await checkout(aliceCart, randomUUID(), CARDS.ok, bob)).status, 403, "bob cannot check out alice's cart")
    const placed = await checkout(aliceCart, randomUUID(), CARDS.ok, alice)
    assert.equal(placed.status, 201)
    assert.equal(placed.body.accessToken, undefined, 'account orders need no token')
    const orderId = placed.body.id

    assert.equal((await t.call('GET', `/store/orders/${orderId}`, { token: alice })).status, 200)
    assert.equal((await t.call('GET', `/store/orders/${orderId}`, { token: bob })).status, 404)
    const list = await t.call('GET', '/store/customers/me/orders', { token: alice })
    assert.deepEqual(list.body.items.map((o: { id: string }) => o.id), [orderId])
    assert.deepEqual((await t.call('GET', '/store/customers/me/orders', { token: bob })).body.items, [])
    assert.equal((await t.call('GET', '/admin/orders?status=paid', { token: alice })).status, 403)

    const adminList = await t.call('GET', '/admin/orders?status=paid&limit=100', { token })
    assert.ok(adminList.body.items.some((o: { id: string }) => o.id === orderId))
    assert.ok(adminList.body.items.every((o: { status: string }) => o.status === 'paid'))
    // Cursors this API never gave out, PostgreSQL-unreadable times among them: 400, not 500.
    const forgeries = [['99999-01-01', 'x'], ['+275760-09-13T00:00:00.000Z', 'x'], ['2020-01-01T00:00:00Z', 7], ['0000-01-01T00:00:00.000Z', 'x'], ['2026-01-01T00:00:00.000Z', 'x\u0000'], ['2026-02-30T00:00:00.000000Z', 'ord_x'], ['2026-01-01T24:00:00.000000Z', 'ord_x']]
    for (const forged of forgeries) {
      const cursor = Buffer.from(JSON.stringify(forged)).toString('base64url')
      const res = await t.call('GET', `/admin/orders?cursor=${cursor}`, { token })
      assert.equal(res.status, 400, JSON.stringify(forged))
      assert.equal(res.body.errors[0].path, 'cursor')
    }
    const unknown = await t.call('GET', '/admin/orders?status=shipped', { token })
    assert.equal(unknown.status, 400)
    assert.deepEqual(unknown.body.errors, [{ path: 'status', message: 'must be equal to one of the allowed values' }], 'one error, naming the field')

    // No partial refunds: an amount is refused, not ignored while the whole order is refunded.
    const partial = await t.call('POST', `/admin/orders/${orderId}/refund`, { token, body: { amount: { amount: 500, currency: 'USD' } } })
    assert.equal(partial.status, 400)
    assert.equal(partial.body.code, 'validation_failed')
    assert.equal((await t.call('GET', `/admin/orders?status=paid&limit=100`, { token })).body.items.some((o: { id: string }) => o.id === orderId), true, 'still paid')
    // With an Idempotency-Key (API.md: money movements take one), a retry answers the first
    // success; without one, a second refund is refused as the transition it would be.
    const refundKey = { 'idempotency-key': randomUUID() }
    const refunded = await t.call('POST', `/admin/orders/${orderId}/refund`, { token, headers: refundKey })
    assert.equal(refunded.status, 200, JSON.stringify(refunded.body))
    assert.equal(refunded.body.status, 'refunded')
    const retried = await t.call('POST', `/admin/orders/${orderId}/refund`, { token, headers: refundKey })
    assert.equal(retried.status, 200)
    assert.deepEqual(retried.body, refunded.body)
    assert.equal((await t.call('POST', `/admin/orders/${orderId}/refund`, { token })).status, 409)
    assert.equal((await t.call('POST', `/admin/orders/${orderId}/fulfil`, { token, headers: refundKey })).status, 422, 'the key is the refund\'s')
    // A shopper's checkout under the same key is another namespace: no conflict either way,
    // nor under the key as it would be stored for the merchant.
    const shopperWithTheKey = await checkout(await cartWith([[v, 1]]), refundKey['idempotency-key'])
    assert.equal(shopperWithTheKey.status, 201, JSON.stringify(shopperWithTheKey.body))
    const shopperPosing = await checkout(await cartWith([[v, 1]]), `merchant:${refundKey['idempotency-key']}`)
    assert.equal(shopperPosing.status, 201, JSON.stringify(shopperPosing.body))
    await t.call('POST', `/admin/orders/${shopperPosing.body.id}/refund`, { token })
    assert.equal((await t.call('POST', `/admin/orders/${orderId}/refund`, { token, headers: refundKey })).status, 200, 'the refund still answers its key')
    await t.call('POST', `/admin/orders/${shopperWithTheKey.body.id}/refund`, { token })
    assert.equal(simulator().stats().keys[`refund:${orderId}`]?.executions, 1, 'refunded once at the gateway')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [10, 0], 'refunded before fulfilment: stock returns (the shopper\'s order too)')
    assert.equal((await t.call('POST', `/admin/orders/${orderId}/cancel`, { token })).status, 409)

    const second = await checkout(await cartWith([[v, 1]]))
    assert.equal((await t.call('POST', `/admin/orders/${second.body.id}/fulfil`, { token })).body.status, 'fulfilled')
    const refundFulfilled = await t.call('POST', `/admin/orders/${second.body.id}/refund`, { token })
    assert.equal(refundFulfilled.body.status, 'refunded')
    assert.equal((await stock(v)).sold, 1, 'a fulfilled order refunded keeps its units sold (they left the warehouse)')
  })
  test('a line added while the checkout runs stays in the cart; what was bought leaves it', async () => {
    const { variants: [v, w] } = await product([5, 5])
    const cartId = await cartWith([[v, 2]])
    const modules = t.api.modules
    const port = paymentPortFrom(modules.payments.gateway)
    const deps = {
      ...checkoutDeps(),
      // The shopper adds to the cart (another tab) while the card is being charged.
      payments: {
        ...port,
        charge: async (...args: Parameters<typeof port.charge>) => {
          assert.equal((await t.call('POST', `/store/carts/${cartId}/items`, { body: { variantId: w, quantity: 1 } })).status, 200)
          assert.equal((await t.call('POST', `/store/carts/${cartId}/items`, { body: { variantId: v, quantity: 1 } })).status, 200)
          return port.charge(...args)
        },
      },
    }
    const answer = await placeCheckout(deps, { cartId, customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card })
    assert.equal(answer.status, 201)
    const items = (await t.call('GET', `/store/carts/${cartId}`)).body.items.map((i: { variantId: string; quantity: number }) => [i.variantId, i.quantity])
    assert.deepEqual(items.sort(), [[v, 1], [w, 1]].sort(), 'the 2 of v bought are gone; the later 1 of v and 1 of w stay')
  })

  test('a checkout that dies after the charge: the webhook settles the order, the worker takes its lines out of the cart, once, and a retry answers it paid', async () => {
    const { variants: [v, w] } = await product([5, 5])
    const cartId = await cartWith([[v, 2], [w, 1]])
    const key = randomUUID()
    const modules = t.api.modules
    const port = paymentPortFrom(modules.payments.gateway)
    const dying = {
      ...checkoutDeps(),
      // The card is charged; the process dies before it hears the answer.
      payments: { ...port, charge: async (...args: Parameters<typeof port.charge>) => { await port.charge(...args); throw new Error('the process died') } },
    }
    await assert.rejects(placeCheckout(dying, { cartId, customer: null, idempotencyKey: key, ...body(), card: body().payment.card }), /the process died/)
    const [{ order_id: orderId }] = await t.platform.sql<{ order_id: string }[]>`select order_id from orders.idempotency_keys where split_part(key, '/', 2) = ${key}`
    assert.equal(await settledStatus(orderId), 'paid', 'the webhook settled it')
    await t.drainEvents()
    const lines = async () => (await t.call('GET', `/store/carts/${cartId}`)).body.items.map((i: { variantId: string; quantity: number }) => [i.variantId, i.quantity])
    assert.deepEqual(await lines(), [], 'what was bought left the cart')
    // The shopper puts one back; the retry that resumes the order must not take it too.
    await t.call('POST', `/store/carts/${cartId}/items`, { body: { variantId: v, quantity: 1 } })
    await t.platform.sql`update orders.idempotency_keys set updated_at = now() - interval '10 minutes' where split_part(key, '/', 2) = ${key}`
    const resumed = await checkout(cartId, key)
    assert.deepEqual([resumed.status, resumed.body.id, resumed.body.status], [201, orderId, 'paid'])
    assert.ok(resumed.body.accessToken)
    assert.deepEqual(await lines(), [[v, 1]], 'taken out once per order')
    assert.equal(chargesFor(orderId), 1)
  })

  test('a second payment captured for an order already paid is refunded; the order stays paid by the first', async () => {
    const { variants: [v] } = await product([5])
    const cartId = await cartWith([[v, 1]])
    const paid = await checkout(cartId)
    assert.equal(paid.status, 201)
    const orderId = paid.body.id
    const [{ payment_id: first }] = await t.platform.sql<{ payment_id: string }[]>`select payment_id from orders.orders where id = ${orderId}`
    // Another charge for the order under another key: what a processor at fault (or a second
    // one that knew nothing of the first) does. Its webhook reports it.
    const gateway = t.api.modules.payments.gateway
    const rogue = await gateway.authorize({ orderId, amount: paid.body.total, card: body().payment.card, capture: true }, `rogue:${orderId}`)
    assert.ok(rogue.ok)
    const second = rogue.payment.id
    for (let i = 0; (await t.platform.sql`select 1 from payments.webhook_events where payment_id = ${second}`).length === 0; i++) {
      assert.ok(i < 100, 'the webhook of the second charge arrived')
      await new Promise((r) => setTimeout(r, 50))
    }
    await t.drainEvents()
    const status = async (paymentId: string) => {
      const found = await gateway.status({ paymentId })
      return found.ok ? found.payment.status : found.code
    }
    assert.equal(await status(second), 'refunded', 'the second charge is paid back')
    assert.equal(await status(first), 'captured', 'the first stands')
    const [order] = await t.platform.sql<{ status: string; payment_id: string }[]>`select status, payment_id from orders.orders where id = ${orderId}`
    assert.deepEqual([order.status, order.payment_id], ['paid', first])
  })

  test('a duplicate charge the processor refuses to refund for good (no such payment) is not retried for ever; one not answered is', async () => {
    const { variants: [v] } = await product([5])
    const paid = await checkout(await cartWith([[v, 1]]))
    assert.equal(paid.status, 201)
    const event = { payload: { orderId: paid.body.id, paymentId: `pay_unknown_${randomUUID().slice(0, 8)}` } }
    // Handled (logged for a person), so the event is finished instead of tried every 30 s.
    await t.platform.sql.begin((tx) => t.api.modules.orders.onDuplicateCharge(event, tx))
    const silent = { ...checkoutDeps(), payments: { ...paymentPortFrom(t.api.modules.payments.gateway), refund: async () => ({ ok: false as const, reason: 'unknown: timed out', final: false }) } }
    await assert.rejects(t.platform.sql.begin((tx) => refundDuplicateCharge(silent, event.payload, tx)), /not confirmed/)
  })

  test('a payment the processor reports refunded refunds its order: stock back, no fulfilment after', async () => {
    const { variants: [v] } = await product([5])
    const paid = await checkout(await cartWith([[v, 2]]))
    assert.equal(paid.status, 201)
    const orderId = paid.body.id
    const [{ payment_id: paymentId }] = await t.platform.sql<{ payment_id: string }[]>`select payment_id from orders.orders where id = ${orderId}`
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [3, 2])
    // Refunded at the processor, the platform not told by the answer (it was lost, and the
    // merchant saw a 503; or the refund was made in the processor's dashboard): its webhook tells.
    const refunded = await t.api.modules.payments.gateway.refund(paymentId, undefined, `dashboard:${orderId}`)
    assert.ok(refunded.ok)
    const status = async () => (await t.platform.sql<{ status: string }[]>`select status from orders.orders where id = ${orderId}`)[0].status
    for (let i = 0; (await status()) !== 'refunded'; i++) {
      assert.ok(i < 100, 'the refund webhook refunded the order')
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [5, 0], 'the units are back on sale')
    assert.equal((await t.call('POST', `/admin/orders/${orderId}/fulfil`, { token })).status, 409, 'a refunded order is not shipped')
    const [transitionRow] = await t.platform.sql<{ actor: string }[]>`select actor from orders.transitions where order_id = ${orderId} and to_status = 'refunded'`
    assert.equal(transitionRow.actor, 'webhook')
  })

  test('cancelling a pending order whose payment was captured and then refunded at the processor refunds it: its units back, not left paid', async () => {
    const { variants: [v] } = await product([5])
    const modules = t.api.modules
    const port = paymentPortFrom(modules.payments.gateway)
    const orderId = (await placePending([[v, 2]])).id
    // Neither the capture's nor the refund's webhook has come; the merchant cancels.
    const asking = { sql: t.platform.sql, log: t.platform.log, inventory: modules.inventory, payments: { ...port, lookup: async () => ({ status: 'captured' as const, paymentId: `pay_${orderId}`, refunded: true as const }) } }
    const cancelled = await cancelOrder(asking, orderId, 'admin:test')
    assert.equal(cancelled.status, 'refunded')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved, (await stock(v)).sold], [5, 0, 0], 'the units are back on sale')
    const path = (await t.platform.sql<{ to_status: string }[]>`select to_status from orders.transitions where order_id = ${orderId} order by id`).map((r) => r.to_status)
    assert.deepEqual(path.slice(-2), ['paid', 'refunded'])
  })

  test("an admin's refund whose webhook is recorded first is still the admin's: the transition names them, not the webhook", async () => {
    const { variants: [v] } = await product([5])
    const paid = await checkout(await cartWith([[v, 1]]))
    assert.equal(paid.status, 201)
    const orderId = paid.body.id
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    // The processor's webhook reports the refund before its answer reaches the admin's request.
    const webhookFirst = {
      ...port,
      refund: async (paymentId: string, key: string) => {
        const answer = await port.refund(paymentId, key)
        const report = { type: 'payment.refunded', payment: { id: paymentId, orderId, status: 'refunded', amount: paid.body.total } }
        await t.platform.sql.begin((tx) => t.api.modules.orders.onPaymentEvent(report, tx))
        return answer
      },
    }
    const refunded = await refundOrder({ sql: t.platform.sql, log: t.platform.log, inventory: t.api.modules.inventory, payments: webhookFirst }, orderId, 'admin:7')
    assert.equal(refunded.status, 'refunded')
    const transitions = await t.platform.sql<{ actor: string }[]>`select actor from orders.transitions where order_id = ${orderId} and to_status = 'refunded'`
    assert.deepEqual(transitions.map((row) => row.actor), ['admin:7'])
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [5, 0], 'its stock back once')
  })

  test('an admin refund after a part was refunded at the processor refunds the rest, and the order is refunded', async () => {
    const { variants: [v] } = await product([5])
    const paid = await checkout(await cartWith([[v, 2]]))
    assert.equal(paid.status, 201)
    const orderId = paid.body.id
    const gateway = t.api.modules.payments.gateway
    const [{ payment_id: paymentId }] = await t.platform.sql<{ payment_id: string }[]>`select payment_id from orders.orders where id = ${orderId}`
    assert.ok((await gateway.refund(paymentId, { amount: 100, currency: paid.body.total.currency }, `dashboard:${orderId}`)).ok)
    const refunded = await t.call('POST', `/admin/orders/${orderId}/refund`, { token })
    assert.equal(refunded.status, 200, JSON.stringify(refunded.body))
    assert.equal(refunded.body.status, 'refunded')
    const payment = await gateway.status({ paymentId })
    assert.ok(payment.ok)
    assert.deepEqual([payment.payment.status, payment.payment.refunded.amount], ['refunded', paid.body.total.amount], 'the whole charge is back, once')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [5, 0])
  })

  test('a refund reported before the order learned of its capture is delivered again; reconciliation finding the payment refunded refunds the order', async () => {
    const { variants: [v] } = await product([5])
    const modules = t.api.modules
    const port = paymentPortFrom(modules.payments.gateway)
    // The charge's outcome is not known (202): the order waits, pending.
    const { id: orderId, total: amount } = await placePending([[v, 1]])
    // The processor captured it, then it was refunded in its dashboard; the refund's report
    // comes first. Refused (the processor delivers it again), not recorded and forgotten.
    const report = { type: 'payment.refunded', payment: { id: 'pay_refunded_early', orderId, status: 'refunded', amount } }
    await assert.rejects(t.platform.sql.begin((tx) => modules.orders.onPaymentEvent(report, tx)), /deliver it again/)
    // Reconciliation asks the processor: captured, and refunded since.
    await t.platform.sql`update orders.orders set created_at = now() - interval '1 minute' where id = ${orderId}`
    const asking = { sql: t.platform.sql, log: t.platform.log, inventory: modules.inventory, payments: { ...port, lookup: async () => ({ status: 'captured' as const, paymentId: 'pay_refunded_early', refunded: true as const }) } }
    assert.equal(await reconcilePendingPayments(asking, { olderThanSeconds: 30, holdSeconds: 900 }), 1)
    const [order] = await t.platform.sql<{ status: string }[]>`select status from orders.orders where id = ${orderId}`
    assert.equal(order.status, 'refunded')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved, (await stock(v)).sold], [5, 0, 0])
    // Delivered again now, the report changes nothing more.
    await t.platform.sql.begin((tx) => modules.orders.onPaymentEvent(report, tx))
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [5, 0])
  })

  test('a retry of a 202 whose charge the processor has settled (its webhook not here yet) answers the outcome, not another 202', async () => {
    const { variants: [v] } = await product([5])
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    const withPort = (payments: Partial<typeof port>) => ({ ...checkoutDeps(), payments: { ...port, ...payments } })
    const pendingOrder = async () => {
      const input = { cartId: await cartWith([[v, 1]]), customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card }
      const first = await placeCheckout(withPort({ charge: async () => ({ status: 'unknown', reason: 'timed out' }) }), input)
      assert.equal(first.status, 202)
      return { input, orderId: (first.body as { id: string }).id }
    }
    const statusOf = async (orderId: string) => (await t.platform.sql<{ status: string }[]>`select status from orders.orders where id = ${orderId}`)[0].status

    const captured = await pendingOrder()
    const paid = await placeCheckout(withPort({ lookup: async () => ({ status: 'captured' as const, paymentId: `pay_${captured.orderId}` }) }), captured.input)
    assert.deepEqual([paid.status, (paid.body as { id: string }).id, (paid.body as { status: string }).status], [201, captured.orderId, 'paid'])
    assert.ok((paid.body as { accessToken?: string }).accessToken, 'the guest hears its token')
    assert.equal(await statusOf(captured.orderId), 'paid')
    assert.deepEqual((await placeCheckout(withPort({ lookup: async () => { throw new Error('not asked again') } }), captured.input)).body, paid.body, 'stored')

    const refused = await pendingOrder()
    const declinedAnswer = await placeCheckout(withPort({ lookup: async () => ({ status: 'declined' as const }) }), refused.input)
    assert.deepEqual([declinedAnswer.status, (declinedAnswer.body as { orderId: string }).orderId], [402, refused.orderId])
    assert.equal(await statusOf(refused.orderId), 'cancelled')

    // Captured and refunded since: reconciliation settles both together; until then, 202.
    const refunded = await pendingOrder()
    const waiting = await placeCheckout(withPort({ lookup: async () => ({ status: 'captured' as const, paymentId: 'pay_refunded', refunded: true as const }) }), refunded.input)
    assert.equal(waiting.status, 202)
    assert.equal(await statusOf(refunded.orderId), 'pending_payment')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved, (await stock(v)).sold], [3, 1, 1])
  })

  test('checkout losing the cart store after payment: the worker still takes the bought lines out', async () => {
    const { variants: [v] } = await product([5])
    const cartId = await cartWith([[v, 2]])
    const deps = { ...checkoutDeps(), cart: { ...t.api.modules.cart.checkout, endCheckout: async () => { throw new Error('Redis is unavailable') } } }
    const answer = await placeCheckout(deps, { cartId, customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card })
    assert.equal(answer.status, 201)
    assert.equal((await t.call('GET', `/store/carts/${cartId}`)).body.items.length, 1, 'checkout could not take them out')
    await t.drainEvents()
    assert.deepEqual((await t.call('GET', `/store/carts/${cartId}`)).body.items, [], 'the worker did')
  })

  test('a charge captured after reconciliation cancelled its order is answered as refunded, not as an order, and paid back', async () => {
    const { variants: [v] } = await product([5])
    const cartId = await cartWith([[v, 1]])
    const modules = t.api.modules
    const port = paymentPortFrom(modules.payments.gateway)
    let orderId = ''
    const deps = {
      ...checkoutDeps(),
      // The charge goes out only after reconciliation gave up on the order (a very slow request).
      payments: {
        ...port,
        charge: async (...args: Parameters<typeof port.charge>) => {
          orderId = args[0].orderId
          await t.platform.sql`update orders.orders set created_at = now() - interval '1 hour' where id = ${orderId}`
          await modules.orders.reconcile({ olderThanSeconds: 0, holdSeconds: 60 })
          return port.charge(...args)
        },
      },
    }
    const answer = await placeCheckout(deps, { cartId, customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card })
    assert.equal(answer.status, 402, JSON.stringify(answer.body))
    assert.match((answer.body as { detail: string }).detail, /refunded/)
    assert.equal((await t.call('GET', `/store/carts/${cartId}`)).body.items.length, 1, 'nothing bought: the line stays')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [5, 0])
    await t.drainEvents()
    assert.equal(simulator().stats().keys[`refund:${orderId}`]?.executions, 1, 'the charge is paid back')
  })

  test('a resumed order whose charge cannot be sent: kept pending under its key, and the next retry charges it; a cancelled order the gateway cannot be asked about is not answered for good', async () => {
    const { variants: [v] } = await product([5])
    const cartId = await cartWith([[v, 1]])
    const key = randomUUID()
    const modules = t.api.modules
    const port = paymentPortFrom(modules.payments.gateway)
    const withPayments = (payments: Partial<typeof port>) => ({
      ...checkoutDeps(),
      payments: { ...port, ...payments },
    })
    const input = { cartId, customer: null, idempotencyKey: key, ...body(), card: body().payment.card }
    // First: the outcome is unknown (202), though nothing reached the gateway.
    const first = await placeCheckout(withPayments({ charge: async () => ({ status: 'unknown', reason: 'timed out' }) }), input)
    assert.equal(first.status, 202)
    // The retry finds no charge and tries to send it, but the gateway is down now.
    // Not cancelled: another retry may be sending the same charge (a resumed order's key is
    // nobody's alone), and cancelling would refund a charge in flight and free the key for a
    // second order.
    await assert.rejects(placeCheckout(withPayments({ charge: async () => ({ status: 'not_sent', retryAfterMs: 1000 }) }), input), /payment service is unavailable.*order is kept/)
    const firstId = (first.body as { id: string }).id
    assert.equal((await t.call('GET', `/store/orders/${firstId}?accessToken=${(first.body as { accessToken: string }).accessToken}`)).body.status, 'pending_payment')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved], [4, 1], 'its unit held for it')
    const again = await placeCheckout(withPayments({}), input)
    assert.equal(again.status, 201, 'the same key, the gateway back: the same order, paid')
    assert.equal((again.body as { id: string }).id, firstId)
    assert.equal(chargesFor(firstId), 1)
    assert.deepEqual([(await stock(v)).reserved, (await stock(v)).sold], [0, 1])

    // A cancelled order and a gateway that cannot be asked: answered, not stored for good.
    const other = await cartWith([[v, 1]])
    const lateKey = randomUUID()
    const lateInput = { ...input, cartId: other, idempotencyKey: lateKey }
    const pending = await placeCheckout(withPayments({ charge: async () => ({ status: 'unknown', reason: 'timed out' }) }), lateInput)
    const lateId = (pending.body as { id: string }).id
    await t.platform.sql`update orders.orders set created_at = now() - interval '1 hour' where id = ${lateId}`
    await modules.orders.reconcile({ olderThanSeconds: 0, holdSeconds: 60 })
    const blind = await placeCheckout(withPayments({ lookup: async () => { throw new Error('gateway timeout') } }), lateInput)
    assert.equal(blind.status, 402)
    assert.doesNotMatch((blind.body as { detail: string }).detail, /declined/)
    const [row] = await t.platform.sql<{ state: string }[]>`select state from orders.idempotency_keys where split_part(key, '/', 2) = ${lateKey}`
    assert.notEqual(row.state, 'done', 'not stored: the next retry asks again')
    const told = await placeCheckout(withPayments({}), lateInput)
    assert.match((told.body as { detail: string }).detail, /nothing was charged/)
  })

  test('a checkout that dies after placing its order keeps its key: a retry resumes that order, never a second one, and sends the charge that never went out', async () => {
    const { variants: [v] } = await product([5])
    const modules = t.api.modules
    // The process "dies" between placing the order and charging: the charge call throws.
    const dying = {
      ...checkoutDeps(),
      payments: { ...paymentPortFrom(modules.payments.gateway), charge: async () => { throw new Error('the process died') } },
    }
    const dieAfterPlacing = async (cartId: string, key: string) => {
      await assert.rejects(placeCheckout(dying, { cartId, customer: null, idempotencyKey: key, ...body(), card: body().payment.card }), /the process died/)
      const [row] = await t.platform.sql<{ state: string; order_id: string }[]>`select state, order_id from orders.idempotency_keys where split_part(key, '/', 2) = ${key}`
      assert.equal(row.state, 'running', 'the key was not released')
      return row.order_id
    }
    const age = (key: string) => t.platform.sql`update orders.idempotency_keys set updated_at = now() - interval '10 minutes' where split_part(key, '/', 2) = ${key}`
    const countOrders = async () => (await t.platform.sql<{ n: number }[]>`select count(*)::int as n from orders.orders`)[0].n

    const cartId = await cartWith([[v, 1]])
    const key = randomUUID()
    const orderId = await dieAfterPlacing(cartId, key)
    assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved], [4, 1])
    assert.equal((await checkout(cartId, key)).status, 409, 'a retry right away: still in progress')
    const ordersBefore = await countOrders()
    await age(key)
    // The retry finds the order's charge never reached the gateway, and sends it with its card.
    const resumed = await checkout(cartId, key)
    assert.equal(resumed.status, 201, JSON.stringify(resumed.body))
    assert.deepEqual([resumed.body.id, resumed.body.status], [orderId, 'paid'])
    // The guest's access token died with the request's memory; the key kept it for the retry.
    assert.ok(resumed.body.accessToken, 'the retry tells the guest the token')
    assert.equal((await t.call('GET', `/store/orders/${orderId}?accessToken=${resumed.body.accessToken}`)).status, 200)
    assert.equal(await countOrders(), ordersBefore, 'no second order')
    assert.equal(chargesFor(orderId), 1, 'charged once')
    assert.deepEqual([(await stock(v)).reserved, (await stock(v)).sold], [0, 1])
    assert.deepEqual((await t.call('GET', `/store/carts/${cartId}`)).body.items, [], 'what was bought left the cart')
    assert.deepEqual((await checkout(cartId, key)).body, resumed.body, 'stored: the same answer again')

    // Nobody retries: once the hold runs out, reconciliation cancels the order and returns
    // the unit; a retry after that is told nothing was charged, and that answer is stored.
    const other = await cartWith([[v, 1]])
    const late = randomUUID()
    const lateOrder = await dieAfterPlacing(other, late)
    await t.platform.sql`update orders.orders set created_at = now() - interval '1 hour' where id = ${lateOrder}`
    await modules.orders.reconcile({ olderThanSeconds: 0, holdSeconds: 60 })
    assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved], [4, 0])
    const [cancelled] = await t.platform.sql<{ actor: string; reason: string }[]>`select actor, reason from orders.transitions where order_id = ${lateOrder} and to_status = 'cancelled'`
    assert.equal(cancelled.actor, 'reconciliation')
    assert.match(cancelled.reason, /hold ran out.*nothing charged/, 'not recorded as a decline: nothing was declined')
    await age(late)
    const settled = await checkout(other, late)
    assert.deepEqual([settled.status, settled.body.orderId], [402, lateOrder])
    assert.match(settled.body.detail, /nothing was charged/)
    assert.equal(chargesFor(lateOrder), 0)
    assert.deepEqual((await checkout(other, late)).body, settled.body, 'stored: the same answer again')
  })

  test("a checkout whose process died before placing its order: a retry takes the key and the cart's claim over at once; should the first wake up meanwhile, it places nothing and lets go of nothing", async () => {
    const { variants: [v1, v2, v3] } = await product([5, 5, 5])
    const cartId = await cartWith([[v1, 1], [v2, 1], [v3, 1]])
    const key = randomUUID()
    const modules = t.api.modules
    const input = { cartId, customer: null, idempotencyKey: key, ...body(), card: body().payment.card }
    // A process that stops beating (killed, or frozen long enough to be taken for dead):
    // its request hangs after taking the key and the cart's claim, before placing the order.
    const first = gate()
    const frozen = {
      ...checkoutDeps(),
      claimer: { id: 'a-dead-process', isAlive: t.platform.liveness.isAlive },
      catalog: { ...modules.catalog, variantsForCheckout: async (ids: string[]) => (await first.opened, modules.catalog.variantsForCheckout(ids)) },
    }
    const firstAnswer = placeCheckout(frozen, input).then(
      (answer) => answer,
      (error: { status?: number; code?: string }) => ({ status: error.status, body: { code: error.code } }),
    )
    await keyClaimed(key)

    // Not two minutes of 409: its process is gone, so the retry goes on with the key now. It
    // is still charging the card when the first request wakes up.
    const charging = gate()
    const port = paymentPortFrom(modules.payments.gateway)
    const retry = placeCheckout({ ...checkoutDeps(), payments: { ...port, charge: async (...args: Parameters<typeof port.charge>) => (await charging.opened, port.charge(...args)) } }, input)
    const ordersOfCart = async () => (await t.platform.sql<{ id: string }[]>`select id from orders.orders where cart_id = ${cartId}`).map((o) => o.id)
    for (let i = 0; (await ordersOfCart()).length === 0; i++) {
      assert.ok(i < 100, 'the retry placed its order')
      await new Promise((r) => setTimeout(r, 20))
    }

    // The first request was not dead after all: it goes on, but the key is no longer its
    // own, so its order (three lines reserved side by side) rolls back whole, and it cannot
    // let go of the cart's claim, which is the retry's now.
    first.open()
    const late = await firstAnswer
    assert.deepEqual([late.status, (late.body as { code: string }).code], [409, 'request_in_progress'])
    const otherTab = await checkout(cartId)
    assert.deepEqual([otherTab.status, otherTab.body.code], [409, 'checkout_in_progress'], 'the cart is still claimed by the retry')

    charging.open()
    const retried = await retry
    assert.equal(retried.status, 201, JSON.stringify(retried.body))
    const orderId = (retried.body as { id: string }).id
    assert.deepEqual(await ordersOfCart(), [orderId], 'one order for the key')
    for (const v of [v1, v2, v3]) assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved, (await stock(v)).sold], [4, 0, 1], v)
    const [strays] = await t.platform.sql<{ n: number }[]>`
      select count(*)::int as n from inventory.ledger l
      where l.variant_id = any(${[v1, v2, v3]}::bigint[]) and l.order_id is not null and not exists (select 1 from orders.orders o where o.id = l.order_id)`
    assert.equal(strays.n, 0, 'no stock moved for an order that does not exist')
    assert.equal(chargesFor(orderId), 1)
    assert.deepEqual((await checkout(cartId, key)).body, retried.body, "the retry's answer is the key's")
  })

  test('a request taken for dead that wakes up to an emptied cart answers 409, not its own refusal: the key answers what the retry bought', async () => {
    const { variants: [v] } = await product([5])
    const cartId = await cartWith([[v, 1]])
    const key = randomUUID()
    const { open: wake, opened: woken } = gate()
    const cartPort = t.api.modules.cart.checkout
    const frozen = {
      ...checkoutDeps(),
      claimer: { id: 'another-dead-process', isAlive: t.platform.liveness.isAlive },
      // Frozen before it opens the cart.
      cart: { ...cartPort, beginCheckout: async (...args: Parameters<typeof cartPort.beginCheckout>) => (await woken, cartPort.beginCheckout(...args)) },
    }
    const first = placeCheckout(frozen, { cartId, customer: null, idempotencyKey: key, ...body(), card: body().payment.card }).then(
      (answer) => answer,
      (error: { status?: number; code?: string }) => ({ status: error.status, body: { code: error.code } }),
    )
    await keyClaimed(key)
    const retried = await checkout(cartId, key)
    assert.equal(retried.status, 201, JSON.stringify(retried.body))
    wake()
    const late = await first
    assert.deepEqual([late.status, (late.body as { code: string }).code], [409, 'request_in_progress'], 'not "the cart is empty"')
    assert.deepEqual((await checkout(cartId, key)).body, retried.body)
  })

  test('a request taken for dead whose charge cannot be sent when it wakes cancels nothing: the order the retry is charging stays, under its key', async () => {
    const { variants: [v] } = await product([5])
    const cartId = await cartWith([[v, 1]])
    const key = randomUUID()
    // Both with the slow card: the retry's charge outlives the client's timeout (202).
    const input = { cartId, customer: null, idempotencyKey: key, ...body(CARDS.slow), card: body(CARDS.slow).payment.card }
    const { open: wake, opened: woken } = gate()
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    const frozen = {
      ...checkoutDeps(),
      claimer: { id: 'a-frozen-process', isAlive: t.platform.liveness.isAlive },
      // Frozen after placing its order, before charging; when it wakes, its payment breaker
      // has opened on the stall, so its charge is never sent.
      payments: { ...port, charge: async () => (await woken, { status: 'not_sent' as const, retryAfterMs: 1000 }) },
    }
    const first = placeCheckout(frozen, input).then(
      (answer) => answer,
      (error: { status?: number; code?: string }) => ({ status: error.status, body: { code: error.code } }),
    )
    const ordersOfCart = async () => (await t.platform.sql<{ id: string }[]>`select id from orders.orders where cart_id = ${cartId}`).map((o) => o.id)
    for (let i = 0; (await ordersOfCart()).length === 0; i++) {
      assert.ok(i < 100, 'the first request placed its order')
      await new Promise((r) => setTimeout(r, 20))
    }
    const [orderId] = await ordersOfCart()
    // The retry takes the key over, resumes the order and sends its charge, still processing.
    const retried = await checkout(cartId, key, CARDS.slow)
    assert.deepEqual([retried.status, retried.body.id], [202, orderId], JSON.stringify(retried.body))

    wake()
    const late = await first
    assert.deepEqual([late.status, (late.body as { code: string }).code], [409, 'request_in_progress'], "the key's answer is the retry's")
    assert.equal(await settledStatus(orderId), 'paid', 'not cancelled under the charge in flight')
    const settled = await checkout(cartId, key, CARDS.slow)
    assert.deepEqual([settled.status, settled.body.id, settled.body.status], [201, orderId, 'paid'], 'the key still names the order')
    assert.deepEqual(await ordersOfCart(), [orderId], 'no second order')
    assert.equal(chargesFor(orderId), 1)
    assert.equal(simulator().stats().keys[`refund:${orderId}`]?.executions ?? 0, 0, 'nothing refunded')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved, (await stock(v)).sold], [4, 0, 1])
  })

  test('a capture the gateway reports for another amount than the order\'s settles nothing, found by reconciliation as by a webhook', async () => {
    const { variants: [v] } = await product([5])
    const { id: orderId, total } = await placePending([[v, 1]])
    await t.platform.sql`update orders.orders set created_at = now() - interval '1 minute' where id = ${orderId}`
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    const reporting = (amount: number) => ({
      ...checkoutDeps(),
      payments: { ...port, lookup: async (key: string) => (key === `charge:${orderId}` ? { status: 'captured' as const, paymentId: `pay_${orderId}`, amount: { amount, currency: total.currency } } : { status: 'unknown' as const }) },
    })
    await reconcilePendingPayments(reporting(total.amount - 1), { olderThanSeconds: 30, holdSeconds: 900 })
    const status = async () => (await t.platform.sql<{ status: string }[]>`select status from orders.orders where id = ${orderId}`)[0].status
    assert.equal(await status(), 'pending_payment', 'one cent short: not this order\'s charge')
    await reconcilePendingPayments(reporting(total.amount), { olderThanSeconds: 30, holdSeconds: 900 })
    assert.equal(await status(), 'paid')
  })

  test('reconciliation cancelling an order whose charge the gateway never got says so in the log, with the order', async () => {
    const { variants: [v] } = await product([5])
    const { id: orderId } = await placePending([[v, 1]])
    await t.platform.sql`update orders.orders set created_at = now() - interval '2 minutes' where id = ${orderId}`
    const logged: { msg: string; orderId?: string }[] = []
    const log = createLogger('info', 'test', new Writable({ write: (chunk, _encoding, done) => (logged.push(JSON.parse(String(chunk))), done()) }))
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    const deps = { ...checkoutDeps(), log, payments: { ...port, lookup: async () => ({ status: 'not_found' as const }) } }
    assert.equal(await reconcilePendingPayments(deps, { olderThanSeconds: 30, holdSeconds: 60 }), 1)
    assert.equal((await t.platform.sql<{ status: string }[]>`select status from orders.orders where id = ${orderId}`)[0].status, 'cancelled')
    assert.ok(logged.some((line) => line.orderId === orderId && /no charge for it and its hold ran out/.test(line.msg)), JSON.stringify(logged))
  })

  test('reconciliation asks about every pending order, not only the oldest hundred: a backlog the gateway has no word on does not hold up one it has', async () => {
    const { variants: [v] } = await product([5])
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    const orderId = (await placePending([[v, 1]])).id
    const [target] = await t.platform.sql<{ payment_key: string }[]>`update orders.orders set created_at = now() - interval '1 minute' where id = ${orderId} returning payment_key`
    // An outage's backlog, older and first by id: charges that never reached the gateway, inside their hold.
    const tag = randomUUID().slice(0, 8)
    await t.platform.sql`
      insert into orders.orders (id, status, email, currency, subtotal, total, shipping_address, payment_key, region, created_at)
      select '0000-backlog-' || ${tag} || '-' || lpad(g::text, 3, '0'), 'pending_payment', o.email, o.currency, o.subtotal, o.total, o.shipping_address,
             'backlog-key-' || ${tag} || '-' || g, o.region, now() - interval '5 minutes'
      from orders.orders o, generate_series(1, 250) g where o.id = ${orderId}`
    try {
      const asked: string[] = []
      const lookup = async (key: string) => {
        asked.push(key)
        return key === target.payment_key ? { status: 'captured' as const, paymentId: `pay_${orderId}` } : { status: 'not_found' as const }
      }
      await reconcilePendingPayments({ ...checkoutDeps(), payments: { ...port, lookup } }, { olderThanSeconds: 30, holdSeconds: 900 })
      assert.equal(await settledStatus(orderId), 'paid')
      assert.equal(asked.filter((key) => key.startsWith(`backlog-key-${tag}-`)).length, 250, 'the backlog asked about once each, and left pending')
    } finally {
      await t.platform.sql`delete from orders.orders where id like ${`0000-backlog-${tag}-%`}`
    }
  })

  test('a cart whose payment is still processing (202) is not checked out again with another key; once the order settles it is free, and what was bought is not bought twice', async () => {
    const { variants: [v] } = await product([5])
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    // The charge's outcome unknown (202), and the processor, asked later, says what became of it.
    const outcome: { lookup: Awaited<ReturnType<typeof port.lookup>> } = { lookup: { status: 'unknown' } }
    const undecided = { ...checkoutDeps(), payments: { ...port, charge: async () => ({ status: 'unknown' as const, reason: 'timed out' }), lookup: async () => outcome.lookup } }
    const ordersOf = async (cartId: string) => (await t.platform.sql<{ status: string }[]>`select status from orders.orders where cart_id = ${cartId} order by created_at`).map((o) => o.status)

    const paidLater = await cartWith([[v, 2]])
    const first = await placeCheckout(undecided, { cartId: paidLater, customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card })
    assert.equal(first.status, 202)
    const orderId = (first.body as { id: string }).id
    // A second click, another tab: its own key, the same cart.
    const again = await checkout(paidLater, randomUUID())
    assert.deepEqual([again.status, again.body.code], [409, 'checkout_in_progress'], JSON.stringify(again.body))
    assert.match(again.body.detail, /still being processed/)
    assert.deepEqual(await ordersOf(paidLater), ['pending_payment'])
    // Captured after all: reconciliation settles it. Before the worker takes the lines out,
    // a new checkout finds the order paid: its lines leave the cart first.
    outcome.lookup = { status: 'captured', paymentId: `pay_${orderId}` }
    await t.platform.sql`update orders.orders set created_at = now() - interval '1 minute' where id = ${orderId}`
    await reconcilePendingPayments({ ...checkoutDeps(), payments: undecided.payments }, { olderThanSeconds: 30, holdSeconds: 900 })
    const afterPaid = await checkout(paidLater, randomUUID())
    assert.deepEqual([afterPaid.status, afterPaid.body.code], [400, 'validation_failed'], 'the cart is empty: its lines were bought')
    assert.deepEqual(await ordersOf(paidLater), ['paid'])
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [3, 2])

    // The cart's claim lost meanwhile (the KV restarted, evicted it): the database still
    // keeps a cart to one order waiting for its payment.
    const lostHold = await cartWith([[v, 1]])
    outcome.lookup = { status: 'unknown' }
    assert.equal((await placeCheckout(undecided, { cartId: lostHold, customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card })).status, 202)
    await t.platform.kv.del(`cart:{${lostHold}}:checkout`)
    const unheld = await checkout(lostHold, randomUUID())
    assert.deepEqual([unheld.status, unheld.body.code], [409, 'checkout_in_progress'], JSON.stringify(unheld.body))
    assert.deepEqual(await ordersOf(lostHold), ['pending_payment'], 'no second order')
    assert.deepEqual([(await stock(v)).reserved, (await stock(v)).sold], [1, 2], 'the refused order reserved nothing')

    // Declined in the end: the order's cancel lets the cart go (the worker), and it can be bought.
    const declinedLater = await cartWith([[v, 1]])
    outcome.lookup = { status: 'unknown' }
    const pending = await placeCheckout(undecided, { cartId: declinedLater, customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card })
    assert.equal(pending.status, 202)
    assert.equal((await checkout(declinedLater, randomUUID())).status, 409)
    outcome.lookup = { status: 'declined' }
    await t.platform.sql`update orders.orders set created_at = now() - interval '1 minute' where id = ${(pending.body as { id: string }).id}`
    await reconcilePendingPayments({ ...checkoutDeps(), payments: undecided.payments }, { olderThanSeconds: 30, holdSeconds: 900 })
    await t.drainEvents()
    const bought = await checkout(declinedLater, randomUUID())
    assert.equal(bought.status, 201, JSON.stringify(bought.body))
    assert.deepEqual(await ordersOf(declinedLater), ['cancelled', 'paid'])
  })

  test('signing in while the guest cart is checked out: what is bought is not merged into the account cart (and bought again)', async () => {
    const { variants: [v, w] } = await product([5, 5])
    const email = `merging-${randomUUID().slice(0, 8)}@shop.test`
    const shopper = (await t.call('POST', '/store/auth/register', { body: { email, password: 'correct-horse-1', name: 'Shopper', country: 'DE' } })).body.token as string
    const accountLines = async () => (await t.call('GET', '/store/customers/me/cart', { token: shopper })).body.items.map((i: { variantId: string; quantity: number }) => [i.variantId, i.quantity])
    const signIn = (cartId: string) => t.call('POST', '/store/auth/login', { body: { email, password: 'correct-horse-1', cartId } })

    // The checkout is charging the card when the shopper signs in: the merge waits for it.
    const guest = await cartWith([[v, 2]])
    const charging = gate()
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    const held = { ...checkoutDeps(), payments: { ...port, charge: async (...args: Parameters<typeof port.charge>) => (await charging.opened, port.charge(...args)) } }
    const buying = placeCheckout(held, { cartId: guest, customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card })
    for (let i = 0; (await t.platform.sql`select 1 from orders.orders where cart_id = ${guest}`).length === 0; i++) {
      assert.ok(i < 100, 'the order was placed')
      await new Promise((r) => setTimeout(r, 20))
    }
    const signedIn = signIn(guest)
    await new Promise((r) => setTimeout(r, 300))
    charging.open()
    assert.equal((await buying).status, 201)
    const merged = await signedIn
    assert.equal(merged.status, 200, JSON.stringify(merged.body))
    assert.deepEqual(await accountLines(), [], 'the bought lines did not move into the account cart')

    // The payment still processing (202) when the shopper signs in: the cart is not merged,
    // its lines are answered as not merged, and the order takes them when it is paid.
    const pendingGuest = await cartWith([[w, 1]])
    const undecided = { ...checkoutDeps(), payments: { ...port, charge: async () => ({ status: 'unknown' as const, reason: 'timed out' }) } }
    assert.equal((await placeCheckout(undecided, { cartId: pendingGuest, customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card })).status, 202)
    const later = await signIn(pendingGuest)
    assert.equal(later.status, 200)
    assert.deepEqual(later.body.unmergedLines, [{ variantId: w, quantity: 1 }])
    assert.deepEqual(await accountLines(), [])
    assert.equal((await t.call('GET', `/store/carts/${pendingGuest}`)).body.items.length, 1, 'the guest cart keeps them')
  })

  test("a retry that takes over the order of a request killed mid-charge lets go of its claim on the cart: the cart is not held for the claim's minute", async () => {
    const { variants: [v, w] } = await product([5, 5])
    const cartId = await cartWith([[v, 1]])
    const key = randomUUID()
    const input = { cartId, customer: null, idempotencyKey: key, ...body(), card: body().payment.card }
    // Killed while charging: its claims on the key and the cart stay behind (no finally runs).
    const never = gate()
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    const killed = {
      ...checkoutDeps(),
      claimer: { id: 'a-killed-process', isAlive: t.platform.liveness.isAlive },
      payments: { ...port, charge: async () => (await never.opened, { status: 'unknown' as const, reason: 'the process was killed' }) },
    }
    void placeCheckout(killed, input).catch(() => {})
    for (let i = 0; (await t.platform.sql`select 1 from orders.orders where cart_id = ${cartId}`).length === 0; i++) {
      assert.ok(i < 100, 'the order was placed')
      await new Promise((r) => setTimeout(r, 20))
    }
    const resumed = await checkout(cartId, key)
    assert.deepEqual([resumed.status, resumed.body.status], [201, 'paid'], JSON.stringify(resumed.body))
    // The shopper goes on shopping in the same cart.
    await t.call('POST', `/store/carts/${cartId}/items`, { body: { variantId: w, quantity: 1 } })
    const next = await checkout(cartId, randomUUID())
    assert.equal(next.status, 201, JSON.stringify(next.body))
    assert.deepEqual((next.body.items as { variantId: string }[]).map((i) => i.variantId), [w], 'only the new line: the first one was bought once')
    never.open() // the killed request's promise ends (in a real crash nothing of it runs again)
  })

  test("a checkout with a new key takes over the cart's claim from a request whose process died: at once, without buying twice what that request bought, and fencing it should it wake", async () => {
    const { variants: [v, w] } = await product([5, 5])
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    const ordersOf = async (cartId: string) => (await t.platform.sql<{ id: string; status: string }[]>`select id, status from orders.orders where cart_id = ${cartId} order by created_at`)
    const inputFor = (cartId: string) => ({ cartId, customer: null, idempotencyKey: randomUUID(), ...body(), card: body().payment.card })

    // Frozen before placing its order, its process taken for dead: the shopper's next
    // checkout (another key) goes through at once, and the request, waking, places nothing.
    const early = await cartWith([[v, 1]])
    const frozen = gate()
    const catalog = t.api.modules.catalog
    const beforePlacing = {
      ...checkoutDeps(),
      claimer: { id: 'a-frozen-process', isAlive: t.platform.liveness.isAlive },
      catalog: { ...catalog, variantsForCheckout: async (ids: string[]) => (await frozen.opened, catalog.variantsForCheckout(ids)) },
    }
    const woken = placeCheckout(beforePlacing, inputFor(early)).then(
      (answer) => answer,
      (error: { status?: number; code?: string }) => ({ status: error.status, body: { code: error.code } }),
    )
    for (let i = 0; (await t.platform.kv.get(`cart:{${early}}:checkout`)) === null; i++) {
      assert.ok(i < 100, 'the frozen request claimed the cart')
      await new Promise((r) => setTimeout(r, 20))
    }
    const next = await checkout(early, randomUUID())
    assert.equal(next.status, 201, JSON.stringify(next.body))
    frozen.open()
    const late = await woken
    assert.deepEqual([late.status, (late.body as { code: string }).code], [409, 'request_in_progress'], 'fenced: it places nothing')
    assert.deepEqual((await ordersOf(early)).map((o) => o.status), ['paid'])

    // Killed after its charge went through: the webhook pays its order, the worker has not
    // taken the lines out yet. The next checkout takes them out first: nothing bought twice.
    const late2 = await cartWith([[w, 1]])
    const never = gate()
    const killed = {
      ...checkoutDeps(),
      claimer: { id: 'a-killed-process', isAlive: t.platform.liveness.isAlive },
      payments: { ...port, charge: async (...args: Parameters<typeof port.charge>) => (await port.charge(...args), await never.opened, port.charge(...args)) },
    }
    void placeCheckout(killed, inputFor(late2)).catch(() => {})
    for (let i = 0; (await ordersOf(late2)).length === 0; i++) {
      assert.ok(i < 100, 'the order was placed')
      await new Promise((r) => setTimeout(r, 20))
    }
    const [paid] = await ordersOf(late2)
    assert.equal(await settledStatus(paid.id), 'paid', 'the webhook settled it')
    const again = await checkout(late2, randomUUID())
    assert.deepEqual([again.status, again.body.code], [400, 'validation_failed'], 'the cart is empty: its line was bought')
    assert.deepEqual((await ordersOf(late2)).length, 1)
    assert.equal(chargesFor(paid.id), 1)
    never.open()
  })

  test('a running request of a live process is not taken over: a retry hears 409 request_in_progress', async () => {
    const { variants: [v] } = await product([5])
    const cartId = await cartWith([[v, 1]])
    const key = randomUUID()
    const { open: release, opened: held } = gate()
    const slow = {
      ...checkoutDeps(),
      // Another process, alive: its liveness key is there.
      claimer: { id: 'another-live-process', isAlive: t.platform.liveness.isAlive },
      catalog: { ...t.api.modules.catalog, variantsForCheckout: async (ids: string[]) => (await held, t.api.modules.catalog.variantsForCheckout(ids)) },
    }
    await t.platform.kv.set('alive:another-live-process', '1', { ttlMs: 60_000 })
    const first = placeCheckout(slow, { cartId, customer: null, idempotencyKey: key, ...body(), card: body().payment.card })
    await keyClaimed(key)
    const retried = await checkout(cartId, key)
    assert.deepEqual([retried.status, retried.body.code], [409, 'request_in_progress'])
    release()
    const answer = await first
    assert.equal(answer.status, 201)
    assert.deepEqual((await checkout(cartId, key)).body, answer.body)
    await t.platform.kv.del('alive:another-live-process')
  })
})

/** For the tests with an app of their own: a variant with 5 in stock, and a guest cart holding `quantity` of it. */
async function cartOfOwnApp(t: TestApp, quantity: number) {
  const token = await t.adminToken()
  const created = await t.call('POST', '/admin/products', {
    token,
    body: sampleProduct({ variants: [{ sku: `OWN-${randomUUID().slice(0, 8)}`, title: 'One', price: { amount: 2500, currency: 'USD' }, stock: 5 }] }),
  })
  const v = created.body.variants[0].id as string
  const cart = (await t.call('POST', '/store/carts')).body.id as string
  await t.call('POST', `/store/carts/${cart}/items`, { body: { variantId: v, quantity } })
  return { token, v, cart }
}

const OWN_APP_ORDER = {
  email: 'shopper@shop.test',
  shippingAddress: { name: 'Ada Shopper', line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
  payment: { card: { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' } },
}

test('the gateway unreachable: 503 at once, nothing charged, the order cancelled and its stock back; then refused before any order while its breaker is open', async () => {
  // A gateway address nothing listens on: every attempt is refused before anything is sent.
  // A breaker that stays open 30 s: Retry-After says so, not the 5 s of a generic 503.
  const t = await startTestApp({ env: { GATEWAY_URL: `http://127.0.0.1:${await freePort()}`, GATEWAY_SECRET: 'unreachable-gateway-secret-1', GATEWAY_BREAKER_RESET_MS: '30000' } })
  try {
    const { token, v, cart } = await cartOfOwnApp(t, 2)
    const order = OWN_APP_ORDER
    const key = randomUUID()
    const stockOf = async () => (await t.call('GET', `/admin/inventory/${v}`, { token })).body
    const orders = async () => (await t.platform.sql`select status from orders.orders`).map((r) => r.status)

    let first = await t.call('POST', `/store/carts/${cart}/checkout`, { body: order, headers: { 'idempotency-key': key } })
    assert.equal(first.status, 503, JSON.stringify(first.body))
    assert.equal(first.body.code, 'unavailable')
    assert.ok(first.headers.get('retry-after'))
    assert.deepEqual(await orders(), ['cancelled'], 'cancelled at once, not left pending for 15 minutes')
    assert.deepEqual([(await stockOf()).available, (await stockOf()).reserved], [5, 0])
    assert.equal((await t.call('GET', `/store/carts/${cart}`)).body.items.length, 1, 'the cart is kept')

    // Retries with the same key open the breaker; then checkouts are refused before placing anything.
    for (let i = 0; i < 10 && t.api.modules.payments.breakerState() !== 'open'; i++) {
      first = await t.call('POST', `/store/carts/${cart}/checkout`, { body: order, headers: { 'idempotency-key': key } })
      assert.equal(first.status, 503)
    }
    assert.equal(t.api.modules.payments.breakerState(), 'open')
    const placed = (await orders()).length
    const refused = await t.call('POST', `/store/carts/${cart}/checkout`, { body: order, headers: { 'idempotency-key': key } })
    assert.equal(refused.status, 503)
    const retryAfter = Number(refused.headers.get('retry-after'))
    const paused = Math.ceil(t.api.modules.payments.pausedForMs() / 1000)
    assert.ok(retryAfter > 20 && Math.abs(retryAfter - paused) <= 1, `Retry-After ${retryAfter} s, the breaker opens again in ${paused} s`)
    assert.equal((await orders()).length, placed, 'no order placed while the breaker is open')
    assert.ok((await orders()).every((status) => status === 'cancelled'))
    assert.deepEqual([(await stockOf()).available, (await stockOf()).reserved], [5, 0])
    // Each of these checkouts is counted, those the open breaker turned away (no gateway call) too.
    const counted = (await t.platform.metrics.registry.getSingleMetricAsString('checkout_outcomes_total')).match(/outcome="unavailable"} (\d+)/)
    const answered503 = await t.platform.metrics.registry.getSingleMetricAsString('http_request_duration_seconds')
    const checkout503s = Number(/http_request_duration_seconds_count\{[^}]*route="\/store\/carts\/:id\/checkout"[^}]*status="503"[^}]*\} (\d+)/.exec(answered503)?.[1] ?? NaN)
    assert.ok(checkout503s >= 2, `503s answered: ${checkout503s}`)
    assert.equal(Number(counted?.[1]), checkout503s, 'every 503 checkout counted as unavailable')
  } finally {
    await t.close()
  }
})

test("a refund whose answer was lost and whose webhook never came is found by reconciliation: the order is refunded, as the merchant's", async () => {
  // Webhooks go where nothing listens: every one is lost.
  const t = await startTestApp({ env: { GATEWAY_WEBHOOK_URL: `http://127.0.0.1:${await freePort()}/webhooks/payments` } })
  try {
    const { token, v, cart } = await cartOfOwnApp(t, 2)
    const paid = await t.call('POST', `/store/carts/${cart}/checkout`, { headers: { 'idempotency-key': randomUUID() }, body: OWN_APP_ORDER })
    assert.equal(paid.status, 201, JSON.stringify(paid.body))
    const orderId = paid.body.id

    // The processor refunds, and its answer is lost on the way back: the merchant hears 503.
    const port = paymentPortFrom(t.api.modules.payments.gateway)
    const answerLost = { ...port, refund: async (paymentId: string, key: string) => (await port.refund(paymentId, key), { ok: false as const, final: false, reason: 'timed out' }) }
    const deps = { sql: t.platform.sql, log: t.platform.log, inventory: t.api.modules.inventory, payments: answerLost }
    await assert.rejects(refundOrder(deps, orderId, 'admin:9'), (error: { status?: number }) => error.status === 503)
    const status = async () => (await t.platform.sql<{ status: string }[]>`select status from orders.orders where id = ${orderId}`)[0].status
    assert.equal(await status(), 'paid', 'nothing told the order yet')

    assert.equal(await t.api.modules.orders.reconcileRefunds({ olderThanSeconds: 0 }), 1)
    assert.equal(await status(), 'refunded')
    const [transition] = await t.platform.sql<{ actor: string }[]>`select actor from orders.transitions where order_id = ${orderId} and to_status = 'refunded'`
    assert.equal(transition.actor, 'admin:9', "the merchant's refund")
    const stockNow = (await t.call('GET', `/admin/inventory/${v}`, { token })).body
    assert.deepEqual([stockNow.available, stockNow.sold], [5, 0], 'its units back on sale')
    assert.equal(await t.api.modules.orders.reconcileRefunds({ olderThanSeconds: 0 }), 0, 'asked about once')

    // A refund asked for that never reached the processor: nothing to record, and the ask is let go.
    const cart2 = (await t.call('POST', '/store/carts')).body.id
    await t.call('POST', `/store/carts/${cart2}/items`, { body: { variantId: v, quantity: 1 } })
    const second = await t.call('POST', `/store/carts/${cart2}/checkout`, { headers: { 'idempotency-key': randomUUID() }, body: OWN_APP_ORDER })
    const neverSent = { ...port, refund: async () => ({ ok: false as const, final: false, reason: 'connection refused' }) }
    await assert.rejects(refundOrder({ ...deps, payments: neverSent }, second.body.id, 'admin:9'))
    assert.equal(await t.api.modules.orders.reconcileRefunds({ olderThanSeconds: 0 }), 0)
    const [row] = await t.platform.sql<{ status: string; refund_requested_by: string | null }[]>`select status, refund_requested_by from orders.orders where id = ${second.body.id}`
    assert.deepEqual([row.status, row.refund_requested_by], ['paid', null])
  } finally {
    await t.close()
  }
})

test("an order list page reads its orders' lines in one query, not one per order", async () => {
  const queries: string[] = []
  const t = await startTestApp({ onQuery: (text) => queries.push(text) })
  try {
    const admin = await t.adminToken()
    const created = await t.call('POST', '/admin/products', { token: admin, body: sampleProduct({ variants: [{ sku: `LIST-${randomUUID().slice(0, 8)}`, title: 'One', price: { amount: 500, currency: 'USD' }, stock: 10 }] }) })
    const variantId = created.body.variants[0].id
    for (let i = 0; i < 3; i++) {
      const cart = (await t.call('POST', '/store/carts')).body.id
      await t.call('POST', `/store/carts/${cart}/items`, { body: { variantId, quantity: 1 } })
      const order = await t.call('POST', `/store/carts/${cart}/checkout`, {
        headers: { 'idempotency-key': randomUUID() },
        body: { email: 'list@shop.test', shippingAddress: { name: 'L', line1: '1 St', city: 'C', postalCode: '1', country: 'US' }, payment: { card: { number: CARDS.ok, expMonth: 12, expYear: 2031, cvc: '123' } } },
      })
      assert.equal(order.status, 201, JSON.stringify(order.body))
    }
    queries.length = 0
    const page = await t.call('GET', '/admin/orders?limit=10', { token: admin })
    assert.equal(page.body.items.length, 3)
    assert.ok(page.body.items.every((order: { items: unknown[] }) => order.items.length === 1))
    // (Not lockOrder's lines, read with an order a late webhook settles: `order_lines l`.)
    assert.equal(queries.filter((q) => /from orders\.order_lines where order_id/.test(q)).length, 1)
  } finally {
    await t.close()
  }
})

test('an order whose payment is still processing keeps its cart for as long as it waits: reconciliation renews the hold', async () => {
  // The slow card's charge stays processing for a minute here, past the checkout's own wait (a 202).
  const t = await startTestApp({ env: { SIMULATOR_SLOW_MS: '60000' } })
  try {
    const { cart } = await cartOfOwnApp(t, 1)
    const slow = { ...OWN_APP_ORDER, payment: { card: { ...OWN_APP_ORDER.payment.card, number: '4000000000000259' } } }
    const res = await t.call('POST', `/store/carts/${cart}/checkout`, { body: slow, headers: { 'idempotency-key': randomUUID() } })
    assert.equal(res.status, 202, JSON.stringify(res.body))
    const hold = `cart:{${cart}}:checkout`
    assert.equal(await t.platform.kv.get(hold), `order:${res.body.id}`)
    // Twenty minutes later the hold would have run out: it is gone here, the order still pending.
    await t.platform.kv.del(hold)
    await t.api.modules.orders.reconcile({ olderThanSeconds: 0, holdSeconds: 900 })
    const [order] = await t.platform.sql`select status from orders.orders where id = ${res.body.id}`
    assert.equal(order.status, 'pending_payment', 'still processing at the processor')
    assert.equal(await t.platform.kv.get(hold), `order:${res.body.id}`, 'held again')
    assert.ok((await t.platform.kv.ttl(hold)) > 60_000)
  } finally {
    await t.close()
  }
})
