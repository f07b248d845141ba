import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { sampleProduct, startTestApp, type TestApp } from '../../../test/support/app.ts'

describe('inventory', () => {
  let t: TestApp
  let token: string
  before(async () => {
    t = await startTestApp()
    token = await t.adminToken()
  })
  after(() => t.close())

  const newVariants = async (stocks: number[]) => {
    const body = sampleProduct({
      variants: stocks.map((stock, i) => ({ sku: `INV-${randomUUID().slice(0, 8)}-${i}`, title: `V${i}`, price: { amount: 1000, currency: 'USD' }, stock })),
    })
    const res = await t.call('POST', '/admin/products', { token, body })
    assert.equal(res.status, 201)
    return { productId: res.body.id as string, variantIds: res.body.variants.map((v: { id: string }) => v.id) as string[] }
  }
  const stock = async (variantId: string) => (await t.call('GET', `/admin/inventory/${variantId}`, { token })).body
  const inventory = () => t.api.modules.inventory
  const reserveInOwnTx = (lines: { variantId: string; quantity: number }[]) =>
    t.platform.sql
      .begin(async (tx) => {
        const result = await inventory().reserve(tx, randomUUID(), lines)
        if (!result.ok) throw Object.assign(new Error('short'), { short: result.short })
        return result
      })
      .then(
        () => 'reserved' as const,
        (error: { short?: unknown }) => {
          if (error.short) return 'short' as const
          throw error
        },
      )

  test('admin reads, sets and adjusts stock; every change lands in the ledger', async () => {
    const { variantIds: [v] } = await newVariants([10])
    assert.deepEqual(await stock(v), { variantId: v, available: 10, reserved: 0, sold: 0, version: 0, lowStockThreshold: 5 })
    const set = await t.call('PUT', `/admin/inventory/${v}`, { token, body: { available: 25 } })
    assert.equal(set.status, 200)
    assert.equal(set.body.available, 25)
    const adjusted = await t.call('POST', `/admin/inventory/${v}/adjust`, { token, body: { delta: -3, reason: 'damaged in the warehouse' } })
    assert.equal(adjusted.body.available, 22)
    assert.equal(adjusted.body.version, 2)

    const again = await t.call('PUT', `/admin/inventory/${v}`, { token, body: { available: 22 } })
    assert.deepEqual([again.status, again.body.available, again.body.version], [200, 22, 2], 'the count it has: nothing changes')

    const ledger = await t.platform.sql<{ actor: string; reason: string; delta_available: number }[]>`
      select actor, reason, delta_available from inventory.ledger where variant_id = ${v} order by id`
    assert.deepEqual(ledger.map((l) => [l.reason, l.delta_available]), [['initial stock', 10], ['set', 15], ['damaged in the warehouse', -3]])
    assert.match(ledger[2].actor, /^admin:\d+$/)
  })

  test('bad input and unknown variants are 4xx naming the field; nothing changes', async () => {
    const { variantIds: [v] } = await newVariants([4])
    const below = await t.call('POST', `/admin/inventory/${v}/adjust`, { token, body: { delta: -5, reason: 'count' } })
    assert.equal(below.status, 409)
    assert.equal(below.body.errors[0].path, 'delta')
    const zero = await t.call('POST', `/admin/inventory/${v}/adjust`, { token, body: { delta: 0, reason: 'x' } })
    assert.equal(zero.status, 400)
    assert.equal(zero.body.errors[0].path, 'delta')
    assert.equal(zero.body.errors[0].message, 'must not be 0')
    const noReason = await t.call('POST', `/admin/inventory/${v}/adjust`, { token, body: { delta: 1 } })
    assert.equal(noReason.body.errors[0].path, 'reason')
    for (const reason of ['   ', '\u001b[2J\n\t', 'line one\nline two']) {
      const unreadable = await t.call('POST', `/admin/inventory/${v}/adjust`, { token, body: { delta: 1, reason } })
      assert.deepEqual([unreadable.status, unreadable.body.errors?.[0]?.path], [400, 'reason'], JSON.stringify(reason))
    }
    const negative = await t.call('PUT', `/admin/inventory/${v}`, { token, body: { available: -1 } })
    assert.equal(negative.body.errors[0].path, 'available')
    assert.equal((await stock(v)).available, 4)
    // Past the most PUT accepts: refused, never an int overflow deep in PostgreSQL (a 500).
    for (let i = 0; i < 2; i++) {
      const above = await t.call('POST', `/admin/inventory/${v}/adjust`, { token, body: { delta: 1_000_000_000, reason: 'typo' } })
      assert.equal(above.status, 409, JSON.stringify(above.body))
      assert.equal(above.body.errors[0].path, 'delta')
    }
    assert.equal((await stock(v)).available, 4)
    const ledger = await t.platform.sql`select count(*)::int as n from inventory.ledger where variant_id = ${v} and reason = 'typo'`
    assert.equal(ledger[0].n, 0, 'nothing in the ledger either')
    assert.equal((await t.call('GET', '/admin/inventory/999999999', { token })).status, 404)
    assert.equal((await t.call('GET', `/admin/inventory/${v}`)).status, 401)
  })

  test('300 concurrent reservations of 1 for 50 units: exactly 50 succeed, nothing lost or made up', async () => {
    const { variantIds: [v] } = await newVariants([50])
    const results = await Promise.all(Array.from({ length: 300 }, () => reserveInOwnTx([{ variantId: v, quantity: 1 }])))
    assert.equal(results.filter((r) => r === 'reserved').length, 50)
    assert.equal(results.filter((r) => r === 'short').length, 250)
    const after = await stock(v)
    assert.equal(after.available, 0)
    assert.equal(after.reserved, 50)
    assert.equal(after.available + after.reserved + after.sold, 50)
  })

  test('a multi-line reservation is all or none', async () => {
    const { variantIds: [a, b] } = await newVariants([5, 1])
    assert.equal(await reserveInOwnTx([{ variantId: a, quantity: 2 }, { variantId: b, quantity: 2 }]), 'short')
    assert.equal((await stock(a)).available, 5, 'the line that fitted was not kept')
    assert.equal((await stock(a)).reserved, 0)
    assert.equal(await reserveInOwnTx([{ variantId: b, quantity: 1 }, { variantId: a, quantity: 2 }]), 'reserved')
    assert.deepEqual([(await stock(a)).reserved, (await stock(b)).reserved], [2, 1])
  })

  test('a refused reservation names every short line, not only the first', async () => {
    const { variantIds: [a, b, c] } = await newVariants([10, 1, 2])
    const short = await t.platform.sql
      .begin(async (tx) => {
        const result = await inventory().reserve(tx, randomUUID(), [{ variantId: c, quantity: 5 }, { variantId: a, quantity: 5 }, { variantId: b, quantity: 5 }])
        throw Object.assign(new Error('roll back'), { result })
      })
      .catch((error: { result?: unknown }) => error.result)
    assert.deepEqual(short, {
      ok: false,
      short: [
        { variantId: b, requested: 5, available: 1 },
        { variantId: c, requested: 5, available: 2 },
      ],
    })
    assert.deepEqual([(await stock(a)).available, (await stock(b)).available, (await stock(c)).available], [10, 1, 2])
  })

  test('overlapping carts reserved in opposite orders never deadlock', async () => {
    const { variantIds: [a, b] } = await newVariants([1000, 1000])
    const jobs = Array.from({ length: 60 }, (_, i) =>
      reserveInOwnTx(i % 2 ? [{ variantId: a, quantity: 1 }, { variantId: b, quantity: 1 }] : [{ variantId: b, quantity: 1 }, { variantId: a, quantity: 1 }]),
    )
    const results = await Promise.all(jobs)
    assert.ok(results.every((r) => r === 'reserved'))
    assert.equal((await stock(a)).reserved, 60)
    assert.equal((await stock(b)).reserved, 60)
  })

  test('release, sell and return move units between the counts', async () => {
    const { variantIds: [v] } = await newVariants([10])
    const lines = [{ variantId: v, quantity: 3 }]
    await t.platform.sql.begin((tx) => inventory().reserve(tx, 'order-a', lines))
    await t.platform.sql.begin((tx) => inventory().sell(tx, 'order-a', lines))
    assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved, (await stock(v)).sold], [7, 0, 3])
    await t.platform.sql.begin((tx) => inventory().returnSold(tx, 'order-a', lines))
    await t.platform.sql.begin((tx) => inventory().reserve(tx, 'order-b', lines))
    await t.platform.sql.begin((tx) => inventory().release(tx, 'order-b', lines))
    assert.deepEqual([(await stock(v)).available, (await stock(v)).reserved, (await stock(v)).sold], [10, 0, 0])
    const orders = await t.platform.sql`select distinct order_id from inventory.ledger where variant_id = ${v} and order_id is not null`
    assert.equal(orders.length, 2)
  })

  test('crossing the low-stock threshold raises inventory.low once; selling out updates the product page', async () => {
    const { productId, variantIds: [v] } = await newVariants([7])
    assert.equal((await t.call('GET', `/store/products/${productId}`)).body.variants[0].inStock, true)
    for (const delta of [-1, -1, -1]) await t.call('POST', `/admin/inventory/${v}/adjust`, { token, body: { delta, reason: 'sale elsewhere' } })
    const low = await t.platform.sql`select payload from platform.outbox where type = 'inventory.low' and payload->>'variantId' = ${v}`
    assert.equal(low.length, 1, 'raised when 7 -> 6 -> 5 crosses the threshold of 5, not again at 4')
    await t.call('PUT', `/admin/inventory/${v}`, { token, body: { available: 0 } })
    await t.drainEvents()
    assert.equal((await t.call('GET', `/store/products/${productId}`)).body.variants[0].inStock, false)
  })

  test('inventory.low counts units on hand: reservations taken and released (declines) raise nothing, the sale that crosses raises it once', async () => {
    const { variantIds: [v] } = await newVariants([6])
    const lows = async () => (await t.platform.sql`select payload from platform.outbox where type = 'inventory.low' and payload->>'variantId' = ${v}`).length
    const line = [{ variantId: v, quantity: 1 }]
    for (let i = 0; i < 3; i++) {
      const orderId = `ord_low_${randomUUID()}`
      await t.platform.sql.begin(async (tx) => assert.deepEqual(await inventory().reserve(tx, orderId, line), { ok: true }))
      await t.platform.sql.begin((tx) => inventory().release(tx, orderId, line))
    }
    assert.equal(await lows(), 0, 'three declined checkouts: 6 on hand throughout')
    const paid = `ord_low_${randomUUID()}`
    await t.platform.sql.begin((tx) => inventory().reserve(tx, paid, line))
    assert.equal(await lows(), 0, 'reserved, not sold yet')
    await t.platform.sql.begin((tx) => inventory().sell(tx, paid, line))
    assert.equal(await lows(), 1, 'sold: 5 on hand, at the threshold')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).sold], [5, 1])
  })

  test('a merchant moves the low-stock threshold: recorded, validated, and a crossing when it reaches the units on hand', async () => {
    const { variantIds: [v] } = await newVariants([8])
    const lows = async () => (await t.platform.sql`select payload from platform.outbox where type = 'inventory.low' and payload->>'variantId' = ${v}`).map((r) => r.payload)
    const lowered = await t.call('PUT', `/admin/inventory/${v}`, { token, body: { lowStockThreshold: 2 } })
    assert.deepEqual([lowered.status, lowered.body.lowStockThreshold, lowered.body.available], [200, 2, 8])
    assert.deepEqual(await lows(), [], '8 on hand, above 2')
    const raised = await t.call('PUT', `/admin/inventory/${v}`, { token, body: { lowStockThreshold: 10 } })
    assert.equal(raised.body.lowStockThreshold, 10)
    assert.deepEqual(await lows(), [{ variantId: v, available: 8, onHand: 8, threshold: 10 }], 'raised to above the 8 on hand: low now')
    await t.call('PUT', `/admin/inventory/${v}`, { token, body: { lowStockThreshold: 12 } })
    assert.equal((await lows()).length, 1, 'already below the old threshold: no second alert')
    const both = await t.call('PUT', `/admin/inventory/${v}`, { token, body: { available: 30, lowStockThreshold: 4 } })
    assert.deepEqual([both.body.available, both.body.lowStockThreshold], [30, 4])
    const ledger = await t.platform.sql<{ reason: string; delta_available: number; actor: string }[]>`
      select reason, delta_available, actor from inventory.ledger where variant_id = ${v} order by id`
    assert.deepEqual(ledger.map((l) => [l.reason, l.delta_available]), [
      ['initial stock', 8],
      ['low-stock threshold 5 -> 2', 0],
      ['low-stock threshold 2 -> 10', 0],
      ['low-stock threshold 10 -> 12', 0],
      ['low-stock threshold 12 -> 4', 0],
      ['set', 22],
    ])
    assert.match(ledger[1].actor, /^admin:\d+$/)
    for (const body of [{}, { lowStockThreshold: -1 }, { lowStockThreshold: 1.5 }, { lowStockThreshold: '3' }]) {
      const bad = await t.call('PUT', `/admin/inventory/${v}`, { token, body })
      assert.equal(bad.status, 400, JSON.stringify(body))
    }
    const negative = await t.call('PUT', `/admin/inventory/${v}`, { token, body: { lowStockThreshold: -1 } })
    assert.equal(negative.body.errors[0].path, 'lowStockThreshold')
    assert.deepEqual([(await stock(v)).available, (await stock(v)).lowStockThreshold], [30, 4])
  })
})
