// The `gateway` CLI role as a real child process, with an API process using it through
// GATEWAY_URL and receiving its webhooks; and the settings that configure it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { ConfigError, loadConfig } from '../../config.ts'
import { freePort, spawnShop } from '../../../test/support/processes.ts'
import { startTestApp } from '../../../test/support/app.ts'
import { createHttpGateway } from './http-gateway.ts'
import { TEST_CARDS } from './simulator/cards.ts'
import { webhookEventsForPayment } from './repo.ts'

const SECRET = `gateway-role-secret-${randomUUID()}`
const card = (number: string) => ({ number, expMonth: 12, expYear: 2099, cvc: '123' })

test('gateway settings: defaults, and bad values refused naming the variable', () => {
  const config = loadConfig({})
  assert.equal(config.gatewayUrl, null, 'the simulator runs in-process by default')
  assert.equal(config.gatewaySecret, null)
  assert.equal(config.gatewayPort, 4010)
  assert.equal(config.gatewayTimeoutMs, 2000)
  assert.ok(config.simulatorSlowMs > config.gatewayTimeoutMs, 'the slow card outlasts the client timeout')
  assert.equal(loadConfig({ GATEWAY_URL: 'http://gw:4010/', GATEWAY_SECRET: SECRET }).gatewayUrl, 'http://gw:4010')
  assert.equal(loadConfig({ SIMULATOR_FAILURE_RATE: '0.25' }).simulatorFailureRate, 0.25)

  const bad: [Record<string, string>, string][] = [
    [{ GATEWAY_URL: 'http://gw:4010' }, 'GATEWAY_SECRET'],
    [{ GATEWAY_SECRET: 'short' }, 'GATEWAY_SECRET'],
    [{ GATEWAY_URL: 'ftp://gw', GATEWAY_SECRET: SECRET }, 'GATEWAY_URL'],
    [{ GATEWAY_WEBHOOK_URL: 'not a url' }, 'GATEWAY_WEBHOOK_URL'],
    [{ GATEWAY_PORT: '99999' }, 'GATEWAY_PORT'],
    [{ GATEWAY_TIMEOUT_MS: '0' }, 'GATEWAY_TIMEOUT_MS'],
    [{ SIMULATOR_FAILURE_RATE: '1.5' }, 'SIMULATOR_FAILURE_RATE'],
    [{ SIMULATOR_FAILURE_RATE: 'often' }, 'SIMULATOR_FAILURE_RATE'],
    [{ SIMULATOR_LATENCY_MS: '-1' }, 'SIMULATOR_LATENCY_MS'],
  ]
  for (const [env, variable] of bad) {
    assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && e.variable === variable, JSON.stringify(env))
  }
})

test('the gateway role without GATEWAY_SECRET stops with a message naming it', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'gateway'], {
    env: { PATH: process.env.PATH, GATEWAY_PORT: '0' },
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.equal(result.status, 78)
  assert.match(result.stderr, /GATEWAY_SECRET/)
})

test('`gateway` runs the simulator as its own process: an API uses it via GATEWAY_URL and receives its signed webhooks', async (t) => {
  const port = await freePort()
  const gatewayUrl = `http://127.0.0.1:${port}`
  const app = await startTestApp({ env: { GATEWAY_URL: gatewayUrl, GATEWAY_SECRET: SECRET } })
  t.after(() => app.close())
  assert.equal(app.api.modules.payments.simulator(), null, 'with GATEWAY_URL nothing runs in-process')

  const gateway = await spawnShop('gateway', {
    PORT: String(port),
    GATEWAY_PORT: String(port),
    GATEWAY_SECRET: SECRET,
    GATEWAY_WEBHOOK_URL: `${app.url}/webhooks/payments`,
    SIMULATOR_SLOW_MS: '700',
    LOG_LEVEL: 'debug',
  })
  try {
    // The API's own gateway port, through GATEWAY_URL, with webhooks back to the API.
    const payments = app.api.modules.payments.gateway
    const captured = await payments.authorize({ orderId: 'order-7', amount: { amount: 1200, currency: 'USD' }, card: card(TEST_CARDS.approves), capture: true }, randomUUID())
    assert.ok(captured.ok && captured.payment.status === 'captured', JSON.stringify(captured))
    let recorded = await webhookEventsForPayment(app.platform.sql, captured.payment.id)
    for (let i = 0; i < 100 && recorded.length === 0; i++) {
      await sleep(50)
      recorded = await webhookEventsForPayment(app.platform.sql, captured.payment.id)
    }
    assert.deepEqual(recorded.map((r) => r.type), ['payment.captured'])

    // The slow card against the separate process: the client times out, retries, one charge.
    const client = createHttpGateway({ baseUrl: gateway.url, timeoutMs: 200, apiKey: SECRET, maxAttempts: 10, backoff: { baseMs: 100, maxMs: 200 } })
    t.after(() => client.shutdown())
    const key = randomUUID()
    const slow = await client.authorize({ orderId: 'order-8', amount: { amount: 900, currency: 'USD' }, card: card(TEST_CARDS.slow) }, key)
    assert.ok(slow.ok && slow.payment.status === 'authorized', JSON.stringify(slow))
    const stats = (await (await fetch(`${gateway.url}/v1/_stats?idempotencyKey=${key}`, { headers: { authorization: `Bearer ${SECRET}` } })).json()) as { executions: number }
    assert.equal(stats.executions, 1)
  } finally {
    assert.equal(await gateway.stop('SIGTERM'), 0, gateway.output())
  }
  assert.match(gateway.output(), /card simulator listening/)
  assert.equal(gateway.output().includes(SECRET), false, 'the secret is never logged')
})
