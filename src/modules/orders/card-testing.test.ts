// Card testing (trying stolen numbers one checkout after another): a cart with too many
// declines is refused further checkouts, and so is a shopper (a signed-in customer, or a
// guest's address) across carts, since a fresh cart costs one request.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { sampleProduct, startTestApp, type TestApp } from '../../../test/support/app.ts'

const DECLINED = { number: '4000000000000002', expMonth: 12, expYear: 2035, cvc: '123' }
const APPROVES = { number: '4242424242424242', expMonth: 12, expYear: 2035, cvc: '123' }

describe('card testing across carts', () => {
  let t: TestApp
  let variantId: string

  before(async () => {
    t = await startTestApp({ env: { DECLINES_PER_SHOPPER: '3' } })
    const created = await t.call('POST', '/admin/products', {
      token: await t.adminToken(),
      body: sampleProduct({ variants: [{ sku: `CT-${randomUUID().slice(0, 8)}`, title: 'One', price: { amount: 1200, currency: 'USD' }, stock: 100 }] }),
    })
    variantId = created.body.variants[0].id
  })
  after(() => t.close())

  const cartWithLine = async (token?: string) => {
    const id = token ? (await t.call('GET', '/store/customers/me/cart', { token })).body.id : (await t.call('POST', '/store/carts')).body.id
    assert.equal((await t.call('POST', `/store/carts/${id}/items`, { token, body: { variantId, quantity: 1 } })).status, 200)
    return id as string
  }
  const checkout = (cartId: string, card: typeof APPROVES, token?: string) =>
    t.call('POST', `/store/carts/${cartId}/checkout`, {
      token,
      headers: { 'idempotency-key': randomUUID() },
      body: {
        email: 'tester@shop.test',
        shippingAddress: { name: 'Card Tester', line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
        payment: { card },
      },
    })
  const orders = async () => (await t.platform.sql<{ n: number }[]>`select count(*)::int as n from orders.orders`)[0].n
  const register = async () =>
    (await t.call('POST', '/store/auth/register', { body: { email: `ct-${randomUUID().slice(0, 8)}@shop.test`, password: 'correct-horse-1', name: 'C', country: 'US' } })).body.token as string

  test('a guest declined on a fresh cart each time is refused at the limit (429), its address counted; a signed-in shopper there is not', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await checkout(await cartWithLine(), DECLINED)).status, 402, `decline ${i}`)
    const placed = await orders()
    const refused = await checkout(await cartWithLine(), APPROVES)
    assert.equal(refused.status, 429, JSON.stringify(refused.body))
    assert.equal(refused.body.code, 'too_many_requests')
    const retryAfter = Number(refused.headers.get('retry-after'))
    assert.ok(retryAfter > 0 && retryAfter <= 3600, `retry-after ${retryAfter}`)
    assert.equal(await orders(), placed, 'nothing placed, nothing sent to the gateway')

    const token = await register()
    const theirs = await checkout(await cartWithLine(token), APPROVES, token)
    assert.equal(theirs.status, 201, 'a signed-in shopper is counted as themselves, not by the address they share')
  })

  test("a signed-in customer's declines count against them, below the cart's own limit (5)", async () => {
    const token = await register()
    const cartId = await cartWithLine(token)
    for (let i = 0; i < 3; i++) assert.equal((await checkout(cartId, DECLINED, token)).status, 402, `decline ${i}`)
    assert.equal((await checkout(cartId, APPROVES, token)).status, 429)
    assert.equal((await checkout(await cartWithLine(), APPROVES, token)).status, 429, 'another cart does not help: the customer is counted')
  })
})
