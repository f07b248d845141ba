// The PaymentGateway port over HTTP against a real simulator on a loopback port: typed
// outcomes, one charge per key under concurrency and timeouts, and the circuit breaker.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createHttpGateway, type HttpGatewayOptions } from './http-gateway.ts'
import { startSimulator, type Simulator } from './simulator/server.ts'
import { TEST_CARDS } from './simulator/cards.ts'
import type { AuthorizeInput } from './gateway.ts'
import { freePort } from '../../../test/support/processes.ts'

const SECRET = 'gateway-test-secret-0123456789'
const USD = (amount: number) => ({ amount, currency: 'USD' })
const input = (number: string = TEST_CARDS.approves, overrides: Partial<AuthorizeInput> = {}): AuthorizeInput => ({
  orderId: `order-${randomUUID()}`,
  amount: USD(2500),
  card: { number, expMonth: 12, expYear: new Date().getFullYear() + 3, cvc: '123' },
  ...overrides,
})

let simulator: Simulator
const gateways: { shutdown(): void }[] = []
function gateway(options: Partial<HttpGatewayOptions> = {}) {
  const client = createHttpGateway({ baseUrl: simulator.url, timeoutMs: 2000, apiKey: SECRET, backoff: { baseMs: 20, maxMs: 100 }, ...options })
  gateways.push(client)
  return client
}
const executions = (key: string) => simulator.stats().keys[key]?.executions ?? 0

before(async () => {
  simulator = await startSimulator({ secret: SECRET })
})
after(async () => {
  for (const g of gateways) g.shutdown()
  await simulator.close()
})

test('approve, decline and insufficient funds come back as typed values', async () => {
  const payments = gateway()
  const approved = await payments.authorize(input(), randomUUID())
  assert.equal(approved.ok, true)
  assert.ok(approved.ok && approved.payment.status === 'authorized')
  assert.ok(approved.ok && approved.payment.amount.amount === 2500 && approved.payment.cardLast4 === '4242')

  const declined = await payments.authorize(input(TEST_CARDS.declined), randomUUID())
  assert.equal(declined.ok, false)
  assert.ok(!declined.ok && declined.code === 'payment_declined' && declined.declineCode === 'card_declined')

  const poor = await payments.authorize(input(TEST_CARDS.insufficientFunds), randomUUID())
  assert.ok(!poor.ok && poor.code === 'payment_declined' && poor.declineCode === 'insufficient_funds')

  const captured = await payments.authorize(input(undefined, { capture: true }), randomUUID())
  assert.ok(captured.ok && captured.payment.status === 'captured')
})

test('a replay with the same key returns the same payment and charges once', async () => {
  const payments = gateway()
  const key = randomUUID()
  const order = input()
  const first = await payments.authorize(order, key)
  const second = await payments.authorize(order, key)
  assert.deepEqual(second, first)
  assert.equal(executions(key), 1)
  const other = await payments.authorize({ ...order, amount: USD(1) }, key)
  assert.ok(!other.ok && other.code === 'idempotency_conflict', JSON.stringify(other))
})

test('10 concurrent authorize calls with one key: one charge, one payment for all', async () => {
  const payments = gateway()
  simulator.update({ latencyMs: 20 })
  const key = randomUUID()
  const order = input()
  try {
    const results = await Promise.all(Array.from({ length: 10 }, () => payments.authorize(order, key)))
    assert.ok(results.every((r) => r.ok), JSON.stringify(results.filter((r) => !r.ok)))
    assert.equal(new Set(results.map((r) => r.ok && r.payment.id)).size, 1)
  } finally {
    simulator.update({ latencyMs: 0 })
  }
  assert.equal(executions(key), 1)
})

test('the slow card: the client times out, retries with the same key, and gets the one charge', async () => {
  // The first retry comes about 200 ms in and the charge takes 1 s, so a loaded machine still
  // retries while the first attempt is processing; 30 attempts (about 3 s) outlast the charge.
  simulator.update({ slowMs: 1000 })
  const payments = gateway({ timeoutMs: 150, maxAttempts: 30, backoff: { baseMs: 100, maxMs: 200 } })
  const key = randomUUID()
  const before = simulator.stats().requests
  const result = await payments.authorize(input(TEST_CARDS.slow), key)
  assert.ok(result.ok && result.payment.status === 'authorized', JSON.stringify(result))
  const after = simulator.stats().requests
  assert.ok(after.requests - before.requests >= 2, 'the first attempt timed out and was retried')
  assert.ok(after.inProgress > before.inProgress, 'a retry found the first attempt still processing')
  assert.equal(executions(key), 1, 'charged exactly once')
})

test('the slow card past every retry is unknown; status() by key tells what happened, and the same key then answers', async () => {
  simulator.update({ slowMs: 500 })
  const outcomes: [string, string, string | undefined][] = []
  const payments = gateway({ timeoutMs: 100, maxAttempts: 2, onOutcome: (operation, outcome, idempotencyKey) => outcomes.push([operation, outcome, idempotencyKey]) })
  const key = randomUUID()
  const order = input(TEST_CARDS.slow)
  const result = await payments.authorize(order, key)
  assert.ok(!result.ok && result.code === 'unknown', JSON.stringify(result))
  assert.deepEqual(outcomes, [['authorize', 'unknown', key]], 'the outcome names the key it went with (for the log: which payment)')

  const during = await payments.status({ idempotencyKey: key })
  assert.ok(during.ok && during.payment.status === 'processing', JSON.stringify(during))
  await sleep(600)
  const settled = await payments.status({ idempotencyKey: key })
  assert.ok(settled.ok && settled.payment.status === 'authorized')
  const retried = await payments.authorize(order, key)
  assert.ok(retried.ok && settled.ok && retried.payment.id === settled.payment.id)
  assert.equal(executions(key), 1)

  const byId = await payments.status({ paymentId: settled.payment.id })
  assert.ok(byId.ok && byId.payment.id === settled.payment.id)
  const never = await payments.status({ idempotencyKey: randomUUID() })
  assert.ok(!never.ok && never.code === 'not_found')
  const noSuch = await payments.status({ paymentId: 'pay_missing' })
  assert.ok(!noSuch.ok && noSuch.code === 'not_found')
})

test('capture and refund through the port, each once per key; refusals are typed', async () => {
  const payments = gateway()
  const authorized = await payments.authorize(input(undefined, { amount: USD(4000) }), randomUUID())
  assert.ok(authorized.ok)
  const id = authorized.payment.id

  const early = await payments.refund(id, undefined, randomUUID())
  assert.ok(!early.ok && early.code === 'invalid_state')
  const captured = await payments.capture(id, randomUUID())
  assert.ok(captured.ok && captured.payment.status === 'captured')

  const refundKey = randomUUID()
  const partial = await payments.refund(id, USD(1500), refundKey)
  assert.ok(partial.ok && partial.refund.amount.amount === 1500 && partial.payment.refunded.amount === 1500)
  const replay = await payments.refund(id, USD(1500), refundKey)
  assert.ok(replay.ok && replay.refund.id === partial.refund.id)
  assert.equal(executions(refundKey), 1)

  const tooMuch = await payments.refund(id, USD(2501), randomUUID())
  assert.ok(!tooMuch.ok && tooMuch.code === 'invalid_request')
  const rest = await payments.refund(id, undefined, randomUUID())
  assert.ok(rest.ok && rest.refund.amount.amount === 2500 && rest.payment.status === 'refunded')

  const missing = await payments.capture('pay_missing', randomUUID())
  assert.ok(!missing.ok && missing.code === 'not_found')
})

test('an answer lost after the charge (500 after processing) is retried with the same key: one charge', async () => {
  // The first attempt fails after processing, every later one succeeds.
  const sim = await startSimulator({ secret: SECRET, failureRate: 0.5, failAfterProcessing: true, random: sequence([0, 1]) })
  const payments = gateway({ baseUrl: sim.url })
  try {
    const key = randomUUID()
    const result = await payments.authorize(input(undefined, { capture: true }), key)
    assert.ok(result.ok && result.payment.status === 'captured')
    assert.equal(sim.stats().requests.injectedFailures, 1)
    assert.equal(sim.stats().requests.replays, 1)
    assert.equal(sim.stats().keys[key].executions, 1)
  } finally {
    await sim.close()
  }
})

test('the breaker opens after repeated failures, fails fast without calling, then half-opens and closes', async () => {
  const sim = await startSimulator({ secret: SECRET, failureRate: 1 })
  const states: string[] = []
  const payments = gateway({
    baseUrl: sim.url,
    maxAttempts: 2,
    breaker: { resetMs: 300, volumeThreshold: 4, errorThresholdPercentage: 50 },
    onBreakerStateChange: (state) => states.push(state),
  })
  try {
    const failures = []
    for (let i = 0; i < 2; i++) failures.push(await payments.authorize(input(), randomUUID()))
    assert.ok(failures.every((r) => !r.ok && r.code === 'unknown'), JSON.stringify(failures))
    assert.equal(payments.breakerState(), 'open')
    const calledSoFar = sim.stats().requests.requests
    assert.equal(calledSoFar, 4)

    const started = performance.now()
    const fast = await payments.authorize(input(), randomUUID())
    assert.ok(performance.now() - started < 50, 'failed fast')
    assert.ok(!fast.ok && fast.code === 'gateway_unavailable' && fast.retryAfterMs > 0 && fast.retryAfterMs <= 300, JSON.stringify(fast))
    assert.equal(sim.stats().requests.requests, calledSoFar, 'nothing was sent while open')
    const status = await payments.status({ idempotencyKey: 'any' })
    assert.ok(!status.ok && status.code === 'gateway_unavailable')

    sim.update({ failureRate: 0 })
    await sleep(350)
    assert.equal(payments.breakerState(), 'halfOpen')
    const trial = await payments.authorize(input(), randomUUID())
    assert.ok(trial.ok, JSON.stringify(trial))
    assert.equal(payments.breakerState(), 'closed')
    assert.deepEqual(states, ['open', 'halfOpen', 'closed'])
  } finally {
    await sim.close()
  }
})

test('a process stalled past its timeouts (frozen, starved of CPU) asks again instead of blaming the processor: answers, and the breaker stays closed', async () => {
  const sim = await startSimulator({ secret: SECRET, latencyMs: 100 })
  const payments = gateway({ baseUrl: sim.url, timeoutMs: 200, maxAttempts: 1, breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetMs: 10_000 } })
  try {
    const orders = Array.from({ length: 4 }, () => ({ order: input(undefined, { capture: true }), key: randomUUID() }))
    const calls = orders.map(({ order, key }) => payments.authorize(order, key))
    // Sent, and the processor working on them; then this process stalls for 1.5 s.
    for (let i = 0; sim.stats().requests.requests < orders.length; i++) {
      assert.ok(i < 100, 'the calls reached the processor')
      await sleep(5)
    }
    const stall = performance.now() + 1500
    while (performance.now() < stall);
    const answers = await Promise.all(calls)
    assert.ok(answers.every((a) => a.ok && a.payment.status === 'captured'), JSON.stringify(answers))
    assert.equal(payments.breakerState(), 'closed')
    for (const { key } of orders) assert.equal(sim.stats().keys[key]?.executions, 1, 'charged once')
  } finally {
    await sim.close()
  }
})

test('a failed half-open trial opens the breaker again', async () => {
  const sim = await startSimulator({ secret: SECRET, failureRate: 1 })
  const payments = gateway({ baseUrl: sim.url, maxAttempts: 1, breaker: { resetMs: 200, volumeThreshold: 2 } })
  try {
    for (let i = 0; i < 2; i++) await payments.authorize(input(), randomUUID())
    assert.equal(payments.breakerState(), 'open')
    await sleep(250)
    const trial = await payments.authorize(input(), randomUUID())
    assert.ok(!trial.ok && trial.code === 'unknown')
    assert.equal(payments.breakerState(), 'open')
  } finally {
    await sim.close()
  }
})

test('nothing listening: every connection refused, so nothing was sent: gateway_unavailable, never a decline', async () => {
  const port = await freePort()
  const payments = gateway({ baseUrl: `http://127.0.0.1:${port}`, maxAttempts: 2 })
  const result = await payments.authorize(input(), randomUUID())
  assert.ok(!result.ok && result.code === 'gateway_unavailable' && /ECONNREFUSED/.test(result.detail), JSON.stringify(result))
})

function sequence(values: number[]): () => number {
  let i = 0
  return () => values[Math.min(i++, values.length - 1)]
}
