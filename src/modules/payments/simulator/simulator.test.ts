// The card simulator over real HTTP, as any client would see it: test cards, idempotency
// keys (replays, conflicts, concurrency), capture and refund, lookups by key, faults and
// signed webhooks.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage } from 'node:http'
import { randomUUID } from 'node:crypto'
import { startSimulator, type Simulator } from './server.ts'
import { TEST_CARDS } from './cards.ts'
import { verifySignature } from '../signature.ts'

const SECRET = 'simulator-test-secret-0123456789'
const card = (number: string = TEST_CARDS.approves, overrides: Record<string, unknown> = {}) => ({ number, expMonth: 12, expYear: new Date().getFullYear() + 2, cvc: '123', ...overrides })
const payment = (number?: string, overrides: Record<string, unknown> = {}) => ({ amount: 1999, currency: 'USD', orderId: 'order-1', card: card(number), ...overrides })

let simulator: Simulator

async function post(path: string, body: unknown, key: string | null = randomUUID()) {
  const res = await fetch(simulator.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}`, ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  })
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }
}
const get = async (path: string) => {
  const res = await fetch(simulator.url + path, { headers: { authorization: `Bearer ${SECRET}` } })
  return { status: res.status, body: (await res.json()) as any }
}

before(async () => {
  simulator = await startSimulator({ secret: SECRET, slowMs: 300 })
})
after(() => simulator.close())

test('4242 approves: an authorization, or a capture with capture: true', async () => {
  const authorized = await post('/v1/payments', payment())
  assert.equal(authorized.status, 201)
  assert.equal(authorized.body.status, 'authorized')
  assert.match(authorized.body.id, /^pay_/)
  assert.equal(authorized.body.amount, 1999)
  assert.equal(authorized.body.currency, 'USD')
  assert.equal(authorized.body.last4, '4242')
  assert.equal(JSON.stringify(authorized.body).includes(TEST_CARDS.approves), false, 'the card number is never echoed')

  const captured = await post('/v1/payments', payment(undefined, { capture: true }))
  assert.equal(captured.body.status, 'captured')
})

test('decline cards: card_declined, insufficient_funds; expired card and bad number are declined with a code', async () => {
  const cases: [unknown, string][] = [
    [card(TEST_CARDS.declined), 'card_declined'],
    [card(TEST_CARDS.insufficientFunds), 'insufficient_funds'],
    [card(TEST_CARDS.approves, { expYear: 2020 }), 'expired_card'],
    [card('4242424242424241'), 'incorrect_number'],
    // Luhn-valid, and no card: no issuer's numbers start with 0.
    [card('0000000000000000000'), 'incorrect_number'],
    [card('0424242424242424'), 'incorrect_number'],
    [card(TEST_CARDS.approves, { cvc: '1' }), 'incorrect_cvc'],
  ]
  for (const [declinedCard, code] of cases) {
    const res = await post('/v1/payments', { ...payment(), card: declinedCard })
    assert.equal(res.status, 201, code)
    assert.equal(res.body.status, 'declined', code)
    assert.equal(res.body.declineCode, code)
  }
  // Any future expiry, this month included, and any CVC.
  const now = new Date()
  const thisMonth = await post('/v1/payments', { ...payment(), card: card(TEST_CARDS.approves, { expMonth: now.getUTCMonth() + 1, expYear: now.getUTCFullYear(), cvc: '9876' }) })
  assert.equal(thisMonth.body.status, 'authorized')
})

test('bad requests are refused with 400 and change nothing; the key stays usable', async () => {
  const key = randomUUID()
  const noCurrency = await post('/v1/payments', { ...payment(), currency: 'usd' }, key)
  assert.equal(noCurrency.status, 400)
  assert.equal(noCurrency.body.error.code, 'invalid_request')
  assert.equal((await post('/v1/payments', payment(), null)).body.error.code, 'idempotency_key_required')
  assert.equal((await post('/v1/payments', payment(), key)).status, 201, 'the refused request did not use the key up')
})

test('the same key returns the same payment and charges once; other input with it is a conflict', async () => {
  const key = randomUUID()
  const first = await post('/v1/payments', payment(), key)
  const again = await post('/v1/payments', payment(), key)
  assert.equal(first.status, 201)
  assert.equal(again.status, 201)
  assert.equal(again.headers.get('idempotent-replayed'), 'true')
  assert.deepEqual(again.body, first.body)
  assert.equal((await get(`/v1/_stats?idempotencyKey=${key}`)).body.executions, 1)

  const conflict = await post('/v1/payments', payment(undefined, { amount: 2999 }), key)
  assert.equal(conflict.status, 422)
  assert.equal(conflict.body.error.code, 'idempotency_conflict')
})

test('10 concurrent requests with one key: one charge, every answer names the same payment', async () => {
  const key = randomUUID()
  simulator.update({ latencyMs: 30 })
  try {
    const answers = await Promise.all(Array.from({ length: 10 }, () => post('/v1/payments', payment(), key)))
    const created = answers.filter((a) => a.status === 201)
    assert.ok(created.length >= 1)
    assert.ok(answers.every((a) => a.status === 201 || (a.status === 409 && a.body.error.code === 'request_in_progress')), JSON.stringify(answers.map((a) => a.status)))
    assert.equal(new Set(created.map((a) => a.body.id)).size, 1)
  } finally {
    simulator.update({ latencyMs: 0 })
  }
  const stats = await get(`/v1/_stats?idempotencyKey=${key}`)
  assert.equal(stats.body.executions, 1)
})

test('the slow card: a retry while it is processing gets 409 request_in_progress, the lookup by key shows it, then the stored answer', async () => {
  const key = randomUUID()
  const first = post('/v1/payments', payment(TEST_CARDS.slow), key)
  await new Promise((r) => setTimeout(r, 50))
  const retry = await post('/v1/payments', payment(TEST_CARDS.slow), key)
  assert.equal(retry.status, 409)
  assert.equal(retry.headers.get('retry-after'), '1')
  const during = await get(`/v1/payments?idempotencyKey=${key}`)
  assert.equal(during.body.items[0].status, 'processing')

  const done = await first
  assert.equal(done.body.status, 'authorized')
  const replay = await post('/v1/payments', payment(TEST_CARDS.slow), key)
  assert.equal(replay.body.id, done.body.id)
  assert.equal((await get(`/v1/_stats?idempotencyKey=${key}`)).body.executions, 1)
})

test('capture, partial and full refund, each keyed; wrong states are refused', async () => {
  const authorized = (await post('/v1/payments', payment(undefined, { amount: 5000 }))).body
  const id = authorized.id
  assert.equal((await post(`/v1/payments/${id}/refund`, {})).status, 409, 'not captured yet')

  const captureKey = randomUUID()
  const captured = await post(`/v1/payments/${id}/capture`, {}, captureKey)
  assert.equal(captured.status, 200)
  assert.equal(captured.body.status, 'captured')
  assert.deepEqual((await post(`/v1/payments/${id}/capture`, {}, captureKey)).body, captured.body, 'replayed')
  assert.equal((await post(`/v1/payments/${id}/capture`, {})).body.error.code, 'invalid_state', 'a second capture with a new key')

  const refundKey = randomUUID()
  const partial = await post(`/v1/payments/${id}/refund`, { amount: 2000 }, refundKey)
  assert.equal(partial.status, 200)
  assert.equal(partial.body.refund.amount, 2000)
  assert.equal(partial.body.payment.status, 'captured')
  assert.equal(partial.body.payment.amountRefunded, 2000)
  const replay = await post(`/v1/payments/${id}/refund`, { amount: 2000 }, refundKey)
  assert.equal(replay.body.refund.id, partial.body.refund.id, 'a retried refund refunds once')

  const tooMuch = await post(`/v1/payments/${id}/refund`, { amount: 3001 })
  assert.equal(tooMuch.status, 400)
  assert.equal(tooMuch.body.error.code, 'amount_too_large')
  const rest = await post(`/v1/payments/${id}/refund`, {})
  assert.equal(rest.body.refund.amount, 3000)
  assert.equal(rest.body.payment.status, 'refunded')
  assert.equal((await get(`/v1/payments/${id}`)).body.amountRefunded, 5000)

  assert.equal((await post('/v1/payments/pay_nope/capture', {})).status, 404)
  assert.equal((await get('/v1/payments/pay_nope')).status, 404)
})

test('lookup by idempotency key: the payment the key created, or an empty list', async () => {
  const key = randomUUID()
  const created = (await post('/v1/payments', payment(TEST_CARDS.declined), key)).body
  const found = await get(`/v1/payments?idempotencyKey=${encodeURIComponent(key)}`)
  assert.deepEqual(found.body.items, [created])
  assert.deepEqual((await get(`/v1/payments?idempotencyKey=never-used`)).body.items, [])
})

test('faults: failure rate 1 answers 500 without charging; failAfterProcessing charges, loses the answer, and the retry gets it', async () => {
  const key = randomUUID()
  simulator.update({ failureRate: 1 })
  try {
    const failed = await post('/v1/payments', payment(), key)
    assert.equal(failed.status, 500)
    assert.equal((await get(`/v1/_stats?idempotencyKey=${key}`)).body.executions, 0)

    simulator.update({ failAfterProcessing: true })
    const lost = await post('/v1/payments', payment(), key)
    assert.equal(lost.status, 500)
    assert.equal((await get(`/v1/_stats?idempotencyKey=${key}`)).body.executions, 1, 'charged although the answer was a 500')
    // Every call counted as failed fails: lookups and replays too (reconciliation meets them).
    const failuresBefore = simulator.stats().requests.injectedFailures
    assert.equal((await get(`/v1/payments?idempotencyKey=${encodeURIComponent(key)}`)).status, 500)
    assert.equal((await post('/v1/payments', payment(), key)).status, 500, 'a replay')
    assert.equal(simulator.stats().requests.injectedFailures, failuresBefore + 2)
  } finally {
    simulator.update({ failureRate: 0, failAfterProcessing: false })
  }
  const retry = await post('/v1/payments', payment(), key)
  assert.equal(retry.status, 201)
  assert.equal(retry.headers.get('idempotent-replayed'), 'true')
  assert.equal((await get(`/v1/_stats?idempotencyKey=${key}`)).body.executions, 1)
})

test('the API wants its key: without it, or with another, 401 and nothing is created or changed', async () => {
  const before = simulator.stats().requests.requests
  for (const authorization of [undefined, 'Bearer not-the-secret', SECRET]) {
    for (const [method, path] of [['POST', '/v1/payments'], ['GET', '/v1/payments'], ['PATCH', '/v1/_settings'], ['GET', '/v1/_stats']]) {
      const res = await fetch(simulator.url + path, {
        method,
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...(authorization ? { authorization } : {}) },
        ...(method === 'GET' ? {} : { body: JSON.stringify(method === 'PATCH' ? { latencyMs: 5000 } : payment()) }),
      })
      assert.equal(res.status, 401, `${method} ${path} with ${authorization}`)
    }
  }
  assert.equal(simulator.stats().requests.requests, before, 'nothing reached the processor')
  assert.equal(simulator.settings().latencyMs, 0)
})

test('settings can be changed over HTTP (for tests against a separate gateway process)', async () => {
  const res = await fetch(`${simulator.url}/v1/_settings`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` }, body: JSON.stringify({ latencyMs: 40 }) })
  assert.equal(((await res.json()) as any).latencyMs, 40)
  const started = Date.now()
  await post('/v1/payments', payment())
  assert.ok(Date.now() - started >= 35)
  simulator.update({ latencyMs: 0 })
  const stats = await get('/v1/_stats')
  assert.ok(stats.body.payments.total > 0)
  assert.equal(JSON.stringify(stats.body).includes(SECRET), false)
})

test('webhooks: signed, retried with backoff until the receiver answers 2xx', async (t) => {
  const received: { headers: IncomingMessage['headers']; body: string }[] = []
  let refuse = 2
  const receiver = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      received.push({ headers: req.headers, body })
      res.statusCode = refuse-- > 0 ? 503 : 200
      res.end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => receiver.close(() => resolve())))
  const port = (receiver.address() as { port: number }).port
  const sim = await startSimulator({ secret: SECRET, webhookUrl: `http://127.0.0.1:${port}/hook`, webhookBaseDelayMs: 20 })
  t.after(() => sim.close())

  const res = await fetch(`${sim.url}/v1/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), authorization: `Bearer ${SECRET}` },
    body: JSON.stringify(payment(undefined, { capture: true })),
  })
  const created = (await res.json()) as any
  await sim.webhooksIdle()

  assert.equal(received.length, 3, 'two refusals, then delivered')
  assert.equal(sim.stats().webhooks.delivered, 1)
  const events = received.map((r) => JSON.parse(r.body))
  assert.equal(new Set(events.map((e) => e.id)).size, 1, 'one event, redelivered under the same id')
  assert.equal(events[0].type, 'payment.captured')
  assert.equal(events[0].data.payment.id, created.id)
  for (const delivery of received) {
    const check = verifySignature(SECRET, delivery.headers['shop-signature'] as string, delivery.body)
    assert.equal(check.ok, true)
    assert.equal(verifySignature('another-secret-0123456789', delivery.headers['shop-signature'] as string, delivery.body).ok, false)
  }
})
