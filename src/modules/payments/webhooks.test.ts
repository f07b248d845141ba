// POST /webhooks/payments on the whole API (real database): only signed, recent deliveries
// are believed; each event is recorded and handled once however often it is delivered; and
// the in-process simulator's own webhooks arrive by themselves.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { startTestApp, type TestApp } from '../../../test/support/app.ts'
import { signatureHeader } from './signature.ts'
import { webhookEventsForPayment } from './repo.ts'
import type { PaymentEvent } from './gateway.ts'
import { TEST_CARDS } from './simulator/cards.ts'
import type { WireEvent } from './wire.ts'

const SECRET = 'webhook-route-test-secret-0123'
let app: TestApp
const handled: PaymentEvent[] = []
let failHandler = false

before(async () => {
  app = await startTestApp({ env: { GATEWAY_SECRET: SECRET } })
  app.api.modules.payments.onPaymentEvent(async (event, tx) => {
    await tx`select 1`
    if (failHandler) throw new Error('subscriber failed')
    handled.push(event)
  })
})
after(() => app.close())

function wireEvent(overrides: Partial<WireEvent> = {}): WireEvent {
  const paymentId = `pay_${randomUUID().replace(/-/g, '')}`
  return {
    id: `evt_${randomUUID().replace(/-/g, '')}`,
    object: 'event',
    type: 'payment.captured',
    created: Math.floor(Date.now() / 1000),
    data: {
      payment: {
        id: paymentId,
        object: 'payment',
        status: 'captured',
        amount: 1999,
        currency: 'USD',
        amountRefunded: 0,
        orderId: 'order-42',
        declineCode: null,
        last4: '4242',
        created: new Date().toISOString(),
      },
    },
    ...overrides,
  }
}

async function deliver(body: string, signature: string | null) {
  const res = await fetch(`${app.url}/webhooks/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'shop-signature': signature } : {}) },
    body,
  })
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as any }
}
const signed = (body: string, secret = SECRET, at?: number) => deliver(body, signatureHeader(secret, body, at))
const rows = (paymentId: string) => webhookEventsForPayment(app.platform.sql, paymentId)

test('a signed event is recorded and handled once, however often it is delivered', async () => {
  const event = wireEvent()
  const body = JSON.stringify(event)
  const first = await signed(body)
  assert.equal(first.status, 200)
  assert.deepEqual(first.body, { received: true, duplicate: false })
  const again = await signed(body)
  assert.deepEqual(again.body, { received: true, duplicate: true })

  const recorded = await rows(event.data.payment.id)
  assert.equal(recorded.length, 1)
  assert.equal(recorded[0].eventId, event.id)
  assert.equal(recorded[0].type, 'payment.captured')
  assert.equal(recorded[0].orderId, 'order-42')
  const mine = handled.filter((e) => e.id === event.id)
  assert.equal(mine.length, 1)
  assert.deepEqual(mine[0].payment.amount, { amount: 1999, currency: 'USD' })
})

test('two deliveries of one event at the same moment record it once', async () => {
  const event = wireEvent({ type: 'payment.refunded' })
  const body = JSON.stringify(event)
  const answers = await Promise.all([signed(body), signed(body), signed(body)])
  assert.ok(answers.every((a) => a.status === 200))
  assert.equal(answers.filter((a) => !a.body.duplicate).length, 1)
  assert.equal((await rows(event.data.payment.id)).length, 1)
  assert.equal(handled.filter((e) => e.id === event.id).length, 1)
})

test('bad signatures are refused with problem+json and record nothing', async () => {
  const event = wireEvent()
  const body = JSON.stringify(event)
  const cases: [string, Promise<Awaited<ReturnType<typeof deliver>>>, number][] = [
    ['no signature', deliver(body, null), 400],
    ['malformed header', deliver(body, 'sha256=abc'), 400],
    ['another secret', signed(body, 'not-the-secret-0123456789'), 401],
    ['expired (10 minutes old)', signed(body, SECRET, Math.floor(Date.now() / 1000) - 600), 401],
    ['a body changed after signing', deliver(body.replace('1999', '1'), signatureHeader(SECRET, body)), 401],
  ]
  for (const [what, answer, status] of cases) {
    const res = await answer
    assert.equal(res.status, status, what)
    assert.match(res.type ?? '', /application\/problem\+json/, what)
    assert.equal(res.body.code, 'invalid_signature', what)
    assert.ok(res.body.detail.length > 0)
  }
  assert.equal((await rows(event.data.payment.id)).length, 0)
})

test('a signed body that is not a payment event is refused with 400 naming the body', async () => {
  for (const body of ['not json', JSON.stringify({ id: 'evt_x', object: 'event', type: 'payment.exploded', created: 1, data: {} })]) {
    const res = await signed(body)
    assert.equal(res.status, 400)
    assert.equal(res.body.code, 'validation_failed')
    assert.equal(res.body.errors[0].path, 'body')
  }
})

test('a signed event PostgreSQL could not store or date is refused with 400, not a 500 the processor retries', async () => {
  const withPayment = (change: Record<string, unknown>) => {
    const event = wireEvent()
    return { ...event, data: { payment: { ...event.data.payment, ...change } } }
  }
  const bodies = [
    { ...wireEvent(), created: 9007199254740991 },
    { ...wireEvent(), created: -1e14 },
    { ...wireEvent(), id: 'evt_\u0000' },
    withPayment({ id: 'pay_\u0000x' }),
    withPayment({ orderId: 'ord_\u0000' }),
    withPayment({ orderId: 'ord_\ud800' }),
    withPayment({ last4: '\udc00' }),
    // Too long to be a key in an index (the insert failed: a 500).
    { ...wireEvent(), id: `evt_${'x'.repeat(12_000)}` },
    withPayment({ id: `pay_${'x'.repeat(12_000)}` }),
  ]
  for (const event of bodies) {
    const res = await signed(JSON.stringify(event))
    assert.equal(res.status, 400, JSON.stringify(event))
    assert.equal(res.body.errors[0].path, 'body')
  }
})

test('a failing subscriber rolls the record back, so the redelivery is handled', async () => {
  const event = wireEvent()
  const body = JSON.stringify(event)
  failHandler = true
  try {
    assert.equal((await signed(body)).status, 500)
  } finally {
    failHandler = false
  }
  assert.equal((await rows(event.data.payment.id)).length, 0)
  assert.deepEqual((await signed(body)).body, { received: true, duplicate: false })
  assert.equal(handled.filter((e) => e.id === event.id).length, 1)
})

test('the in-process simulator posts its own signed webhooks to this API', async () => {
  const payments = app.api.modules.payments
  assert.ok(payments.simulator(), 'no GATEWAY_URL: the simulator runs in this process')
  const card = { number: TEST_CARDS.approves, expMonth: 1, expYear: 2099, cvc: '123' }
  const captured = await payments.gateway.authorize({ orderId: 'order-e2e', amount: { amount: 500, currency: 'EUR' }, card, capture: true }, randomUUID())
  const declined = await payments.gateway.authorize({ orderId: 'order-e2e', amount: { amount: 500, currency: 'EUR' }, card: { ...card, number: TEST_CARDS.declined } }, randomUUID())
  assert.ok(captured.ok)
  assert.ok(!declined.ok && declined.code === 'payment_declined')
  await payments.simulator()!.webhooksIdle()
  assert.deepEqual((await rows(captured.payment.id)).map((r) => r.type), ['payment.captured'])
  assert.deepEqual((await rows(declined.payment.id)).map((r) => r.type), ['payment.declined'])

  const refund = await payments.gateway.refund(captured.payment.id, undefined, randomUUID())
  assert.ok(refund.ok)
  for (let i = 0; i < 50 && (await rows(captured.payment.id)).length < 2; i++) await sleep(20)
  assert.deepEqual((await rows(captured.payment.id)).map((r) => r.type).sort(), ['payment.captured', 'payment.refunded'])
})
